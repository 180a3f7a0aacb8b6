# CPM, the NSRM authors' hand variant: VGG19 conv1-conv4 + conv5_1..5_3, six 7x7 stages, every
# stage supervised; 368x368 crops -> 46x46 heatmaps, Gaussian sigma 1 cell. Leaves that change
# the crop set `codec` and `model.head.decoder` together. Loss: the papers' MSE, sum / (B*H*W)
# per stage summed over the keypoint maps (NSRM's objective too).
codec = dict(type='MSRAHeatmap', input_size=(368, 368), heatmap_size=(46, 46), sigma=1.0)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=21, num_stages=6),
    head=dict(type='MultiStageHeatmapHead',
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'), decoder=codec),
    test_cfg=dict(flip_test=False),
)
