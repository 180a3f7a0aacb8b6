# The MobileNetV2 student on MPII (16 keypoints), alone: the hourglass baselines' data
# (configs/hourglass/_mpii-256_data.py: 256x256 crops -> 64x64 heatmaps) and schedule (Adam
# 2.5e-4, 150 epochs), width x1.0, a 128-channel decoder to stride 4. The "student alone" row of
# an MPII distillation table (configs/kd/kd-hm-fea_hg4-to-mbv2_mpii-256.py).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../hourglass/_mpii-256_data.py']
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', num_keypoints=16, widen_factor=1.0, head_channels=128,
                  out_stride=4),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss', loss_weight=0.5),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=True),
)
