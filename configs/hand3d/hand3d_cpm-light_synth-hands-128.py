# The 3D hand estimator (no depth regulariser) on the generated hands, for the CPU: light CPM
# + relative-depth head, 128x128 crops. The quick start's schedule and augmentation; flips are
# on (they mirror keypoints_3d, K and hand_side with the image).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/synth_hands.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/models/hand3d_cpm-light_128.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

# bone_length_prior: the size the no-ground-truth reconstruction assumes; the generated hands'
# middle MCP -> PIP is 44.9 mm on average (train split; a real adult hand's is ~35 mm).
model = dict(data_preprocessor=dict(channels_last=True),
             test_cfg=dict(bone_length_prior=45.0))
train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, rotate_factor=45.0,
    scale_factor=(0.75, 1.25))

data_root = 'data/synth_hands'
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[14, 18], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
