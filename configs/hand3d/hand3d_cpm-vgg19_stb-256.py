# The 3D hand estimator on STB (train B2-B6, test B1, SK colour images) at DGGAN's sizes.
# 3D protocol: joint 0 is STB's palm centre (root='palm'), so the metrics are root-relative to
# the palm (names /palm/...), hand3d's STB protocol; ground-truth root depth and bone length
# granted (/gt-root-depth+bone) and not (/no-gt); AUC 20-50 mm.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/stb.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/datasets/_dggan_augmentation.py', '../_base_/models/hand3d_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(_base_.codec, _base_.depth_codec,
                                                     padding=1.25, **_base_.dggan_augmentation)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
