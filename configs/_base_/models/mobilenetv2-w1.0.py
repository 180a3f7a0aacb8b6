# The MobileNetV2 student of the body distillation tables (COCO, MPII): MobileNetV2 x1.0 inverted
# residuals and a 128-channel decoder to stride 4, on the hourglass baselines' loss (0.5 x
# keypoint-weighted MSE, configs/_base_/models/hourglass.py) so the student and hourglass rows
# compare; flip test on. Leaves set `num_keypoints` and the codec (`head.decoder`, declared once
# with the pipelines), as for the hourglass.
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', widen_factor=1.0, head_channels=128, out_stride=4),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss', loss_weight=0.5)),
    test_cfg=dict(flip_test=True),
)
