# The quick start: a light CPM trained on the CPU on generated hands (make quickstart).
# 128x128 crops -> 16x16 heatmaps (light_s8: stride 8, so each stage sees the whole hand).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/synth_hands.py', '../_base_/codecs/msra_128.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    type='TopdownPoseEstimator',
    # channels_last: the light model's convolutions run 1.5-3x faster on CPUs in that layout.
    data_preprocessor=dict(type='PoseDataPreprocessor', channels_last=True),
    backbone=dict(type='CPM', arch='light_s8', num_keypoints=21),
    # the CPM / NSRM papers' loss: sum / (B*H*W) per stage, summed over the 21 maps
    head=dict(type='MultiStageHeatmapHead',
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)

train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25,
                                                  rotate_factor=45.0, scale_factor=(0.75, 1.25))

data_root = 'data/synth_hands'
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[14, 18], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
