# What the three networks of the body + hand amalgamation share: the COCO body teacher, the
# OneHand10K hand teacher and the 38-keypoint student are the same MobileNetV2 x1.0 (a
# 128-channel decoder to stride 4) on the same crop and augmentation, and differ only in
# their number of keypoints (leaves set `model.backbone.num_keypoints`) and their data. Every
# teacher then sees the student's crop exactly as it was trained to (a teacher trained on
# another aspect ratio would see the crop squashed by the resize).
#
# The crop: 256x256 -> 64x64 heatmaps, sigma 2 (configs/_base_/codecs/msra_256_stride4.py). A
# person's box, padded x1.25 and widened to the crop's aspect, fills the crop's height as in
# the usual 256x192 COCO crop (padded person boxes are mostly taller than 4:3, so their
# vertical resolution is the same; the extra width is background), and a hand's nearly square
# box gets the 256x256 of mmpose's OneHand10K configs instead of 192 px across. The price: 4/3
# of the 256x192 FLOPs on body crops. Augmentation: the top-down defaults (flip, shift 0.16 /
# p 0.3, scale 0.5-1.5, rotation up to 80 deg / p 0.6, photometric) for all three. Flip test:
# the layouts' flip pairs (the body's left/right swapped, hand joints kept).
_base_ = ['../_base_/default_runtime.py', '../_base_/codecs/msra_256_stride4.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='MobileNetV2Pose', widen_factor=1.0, head_channels=128, out_stride=4),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=True))
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25)
