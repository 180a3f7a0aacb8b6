# The CPU demo student: MobileNetV2 inverted residuals (width x0.5) with a light U-Net decoder,
# generated hands, 64x64 crops -> 16x16 heatmaps (stride 4). About 13 MFLOP and 0.16 M
# parameters per image. Trained alone here (the "student alone" row of the distillation table);
# configs/kd/ distil the quick start's light CPM into it with the same data, schedule and seed.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/synth_hands.py', '../_base_/codecs/msra_64.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', num_keypoints=21, widen_factor=0.5, head_channels=32,
                  out_stride=4),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)
# The same framing and augmentation as the teacher's config (padding 1.25, +-45 deg, x0.75-1.25),
# so a teacher that sees this crop resized to its input sees what it was trained on.
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, rotate_factor=45.0,
                                                  scale_factor=(0.75, 1.25))
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
# 5 epochs, x0.2 at 3 and 4: the student budget of the distillation table (every row of it).
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[3, 4], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=5)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
