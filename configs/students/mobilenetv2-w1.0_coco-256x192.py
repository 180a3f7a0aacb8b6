# The MobileNetV2 student on COCO person keypoints (17), alone: the hourglass baselines' data
# (configs/hourglass/_coco-256x192_data.py: 256x192 crops -> 64x48 heatmaps, ground-truth boxes)
# and schedule (Adam 2.5e-4, 150 epochs), width x1.0, a 128-channel decoder to stride 4. The
# "student alone" row of a COCO distillation table (configs/kd/kd-hm-fea_hg4-to-mbv2_coco-256x192.py
# distils the 4-stack hourglass into it with the same data, schedule and seed).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../hourglass/_coco-256x192_data.py']
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', num_keypoints=17, widen_factor=1.0, head_channels=128,
                  out_stride=4),
    # the hourglass baselines' loss (0.5 x keypoint-weighted MSE), so the two rows compare
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss', loss_weight=0.5),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=True),
)
