# DGGAN on STB (train B2-B6, test B1, SK colour images) at the paper's sizes. The SK depth
# images come from the RealSense depth camera: LoadDepth(format='stb') re-projects them into
# the colour camera (poseforge/datasets/transforms/depth.py). 3D protocol: palm-centre root
# (STB's joint 0; names .../palm/...), ground-truth root depth and bone length granted and not.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/stb.py',
          '../_base_/datasets/_hand_3d_metrics.py', '../_base_/datasets/_dggan_augmentation.py',
          '../_base_/models/dggan_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, depth_format='stb',
    depth_map_size=_base_.depth_size, **_base_.dggan_augmentation)
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
