# Stacked hourglass, the OKDHP authors' baseline (poseforge/models/backbones/hourglass.py):
# pre-activation bottlenecks, 256 channels, depth-4 hourglasses, every stack supervised, heatmaps
# at 1/4 of the crop. The loss is the authors' JointsMSELoss: 0.5 x the keypoint-weighted mean
# squared error. Flip test on. Leaves set `num_stacks`, `num_keypoints` and the codec
# (`head.decoder`, declared once with the pipelines).
model = dict(
    type='TopdownPoseEstimator',
    # channels_last inputs: the convolutions (and with them the whole network) then run in
    # that layout, the faster one for a CPU training step (README, speed section)
    data_preprocessor=dict(type='PoseDataPreprocessor', channels_last=True),
    backbone=dict(type='StackedHourglass', num_stacks=2, num_keypoints=16, channels=256,
                  depth=4, num_blocks=1),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss', loss_weight=0.5)),
    test_cfg=dict(flip_test=True),
)
