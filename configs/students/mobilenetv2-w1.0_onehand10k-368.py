# The MobileNetV2 student on OneHand10K (21 keypoints), alone: the VGG19 CPM's data, crops,
# schedule and metrics (configs/cpm/cpm_vgg19_onehand10k-368.py: 368x368 -> 46x46 heatmaps,
# NSRM's crop), width x1.0, a 96-channel decoder to the CPM's stride 8. The "student alone" row
# of a OneHand10K distillation table (configs/kd/kd-hm-fea_cpm-to-mbv2_onehand10k-368.py).
_base_ = ['../cpm/cpm_vgg19_onehand10k-368.py']
model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', num_keypoints=21, widen_factor=1.0, head_channels=96,
                  out_stride=8),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)
