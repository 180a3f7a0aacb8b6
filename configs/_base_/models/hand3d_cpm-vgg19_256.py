# The 3D hand estimator of DGGAN's code (Kuzphi/UniversalHand3dFrame, CPMWeaklyDirectRegression):
# VGG19 CPM (six 7x7 stages) on 256x256 crops -> 32x32 heatmaps, and a seventh stage beside
# the last one on cat[features, stage-5 maps] -> 21 maps -> FC 21504 -> 512 -> 512 -> 21
# relative depths (z_i - z_root) / L_ref, L_ref = middle MCP -> PIP (joints 9 -> 10).
_base_ = ['../codecs/msra_256.py']
depth_codec = dict(type='RelativeDepth', root_index=0, ref_bone=(9, 10), depth_span=4.0)

model = dict(
    type='Topdown3DPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=21, num_stages=6),
    # DGGAN's code: nn.MSELoss per stage, the mean over keypoints (the 2D CPM configs use the
    # CPM paper's sum), beside the depth head's 0.1 SmoothL1
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
              decoder=_base_.codec),
    depth_head=dict(type='RelativeDepthHead', in_channels=128, num_keypoints=21,
                    heatmap_size=(32, 32), stage_channels=128, stage_kernel=7,
                    stage_dilations=(1, 1, 1, 1, 1), fc_channels=(512, 512), loss_weight=0.1),
    depth_codec=depth_codec,
    feature_module='trunk',
    depth_from_stage=-2,
    test_cfg=dict(flip_test=False, granted='gt', bone_length_prior=35.0),
)
