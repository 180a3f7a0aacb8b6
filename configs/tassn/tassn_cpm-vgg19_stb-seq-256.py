# TASSN on STB's videos (train B2-B6, test B1, SK colour images; 2D labels only in training):
# DGGAN's VGG19 CPM 3D estimator per frame at 256 x 256, a temporal convolution over clips of
# 8 consecutive frames, the clip losses (poseforge.models.estimators.tassn). STB gives K and
# 3D labels, so the reprojection uses the perspective camera with the granted root depth and
# bone length, and the table's 3D metrics are root-relative to the palm (root='palm').
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/stb.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/datasets/_temporal_metrics.py',
          '../_base_/datasets/_dggan_augmentation.py', '../_base_/models/tassn_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(_base_.codec, _base_.depth_codec,
                                                     padding=1.25, **_base_.dggan_augmentation)
train_dataloader = dict(
    batch_size=4, collate_fn=dict(type='poseforge.clip_collate'),
    dataset=dict(_delete_=True, type='ClipDataset', clip_length=8, stride=4,
                 dataset=dict(type='StbDataset', data_root='data/stb', split='train', camera='SK',
                              root='palm', pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=4, collate_fn=dict(type='poseforge.clip_collate'),
    dataset=dict(_delete_=True, type='ClipDataset', clip_length=8, stride=8,
                 dataset=dict(type='StbDataset', data_root='data/stb', split='test', camera='SK',
                              root='palm', pipeline=test_pipeline, test_mode=True)))
test_dataloader = val_dataloader
# ClipDataset reports frames, not clips: these loops tell the metrics how many
val_cfg = dict(type='ClipValLoop')
test_cfg = dict(type='ClipTestLoop')
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator
