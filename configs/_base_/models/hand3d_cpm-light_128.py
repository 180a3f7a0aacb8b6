# The 3D hand estimator for CPU runs: the quick start's light CPM (stride 8: 128x128 crops ->
# 16x16 heatmaps) + a relative-depth head on cat[trunk features, stage-2 maps] (one light CPM
# stage, then 512 -> 512 -> 21), as poseforge.models.heads.relative_depth_head describes.
_base_ = ['../codecs/msra_128.py']
depth_codec = dict(type='RelativeDepth', root_index=0, ref_bone=(9, 10), depth_span=4.0)

model = dict(
    type='Topdown3DPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='light_s8', num_keypoints=21),
    # DGGAN's code: nn.MSELoss per stage, the mean over keypoints (the 2D CPM configs use the
    # CPM paper's sum), beside the depth head's 0.1 SmoothL1
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
              decoder=_base_.codec),
    depth_head=dict(type='RelativeDepthHead', in_channels=128, num_keypoints=21,
                    heatmap_size=(16, 16), stage_channels=64, stage_kernel=3,
                    stage_dilations=(1, 2, 4), stage_norm=True, fc_channels=(512, 512),
                    loss_weight=0.1),
    depth_codec=depth_codec,
    feature_module='trunk',
    depth_from_stage=-2,
    test_cfg=dict(flip_test=False, granted='gt', bone_length_prior=35.0),
)
