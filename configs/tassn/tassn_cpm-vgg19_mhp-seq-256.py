# TASSN on MHP's videos (train data_3..21, validate data_1..2, four webcams; 2D labels only in
# training): DGGAN's VGG19 CPM 3D estimator per frame at 256 x 256, a temporal convolution over
# clips of 8 consecutive frames of one webcam (sequence_keys: sequence_id, view_id), the clip
# losses (poseforge.models.estimators.tassn). MHP gives K and 3D labels: perspective
# reprojection with the granted root depth and bone length (lens distortion is left out of the
# training losses, it is small inside a crop); 3D metrics root-relative to the palm.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/mhp.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/datasets/_temporal_metrics.py',
          '../_base_/datasets/_dggan_augmentation.py', '../_base_/models/tassn_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(_base_.codec, _base_.depth_codec,
                                                     padding=1.25, **_base_.dggan_augmentation)
train_dataloader = dict(
    batch_size=4, collate_fn=dict(type='poseforge.clip_collate'),
    dataset=dict(_delete_=True, type='ClipDataset', clip_length=8, stride=4,
                 dataset=dict(type='MhpDataset', data_root='data/mhp', split='train',
                              root='palm', pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=4, collate_fn=dict(type='poseforge.clip_collate'),
    dataset=dict(_delete_=True, type='ClipDataset', clip_length=8, stride=8,
                 dataset=dict(type='MhpDataset', data_root='data/mhp', split='val',
                              root='palm', pipeline=test_pipeline, test_mode=True)))
test_dataloader = val_dataloader
# ClipDataset reports frames, not clips: these loops tell the metrics how many
val_cfg = dict(type='ClipValLoop')
test_cfg = dict(type='ClipTestLoop')
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator
