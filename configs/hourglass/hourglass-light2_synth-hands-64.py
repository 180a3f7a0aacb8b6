# A light 2-stack hourglass for the CPU: generated hands, 64x64 crops -> 16x16 heatmaps, 32
# channels, depth-3 hourglasses, a 6-epoch schedule. The single-branch baseline of the OKDHP
# light table (configs/okdhp/okdhp-light_hg2_synth-hands-64.py trains the same student with
# OKDHP, same data and schedule).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/models/hourglass.py', '../_base_/datasets/synth_hands.py',
          '../_base_/codecs/msra_64.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    # channels_last: small convolutions run faster on CPUs in that layout.
    data_preprocessor=dict(channels_last=True),
    backbone=dict(num_stacks=2, num_keypoints=21, channels=32, depth=3),
    head=dict(decoder=_base_.codec),
    test_cfg=dict(flip_test=False))
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, rotate_factor=45.0,
                                                  scale_factor=(0.75, 1.25))
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[5], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=6)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=2))
