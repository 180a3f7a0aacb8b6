# CPM, the NSRM authors' hand variant: VGG19 conv1-conv4 + conv5_1..5_3, six 7x7 stages, every
# stage supervised; 368x368 crops -> 46x46 heatmaps, sigma 1 cell (../codecs/msra_368.py).
# A leaf that changes the crop declares its `codec` once and refers to it in
# `model.head.decoder` and its pipelines (tests/test_config_codecs.py checks every config).
# Loss: the papers' MSE, sum / (B*H*W) per stage summed over the keypoint maps (NSRM's too).
_base_ = ['../codecs/msra_368.py']

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=21, num_stages=6),
    head=dict(type='MultiStageHeatmapHead',
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)
