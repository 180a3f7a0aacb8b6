# What the TASSN configs on real videos (MHP, STB) share: DGGAN's VGG19 CPM 3D estimator per
# frame at 256 x 256 with DGGAN's augmentation, a temporal convolution over clips of 8 frames
# (configs/_base_/models/tassn_cpm-vgg19_256.py), the CPM/NSRM step schedule, the clip loops and
# the 3D + temporal metrics. A leaf adds its dataset base and, because mmengine refuses one key
# from two bases, states the loaders and evaluators itself:
#   train_dataloader, val_dataloader = clip_dataloaders(
#       _base_.train_dataloader.dataset, _base_.val_dataloader.dataset,
#       _base_.train_pipeline, _base_.test_pipeline)
#   val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/_hand_3d_metrics.py', '../_base_/datasets/_temporal_metrics.py',
          '../_base_/datasets/_dggan_augmentation.py', '../_base_/models/tassn_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(_base_.codec, _base_.depth_codec,
                                                     padding=1.25, **_base_.dggan_augmentation)
# ClipDataset reports frames, not clips: these loops tell the metrics how many
val_cfg = dict(type='ClipValLoop')
test_cfg = dict(type='ClipTestLoop')
