# The light centre-point hand detector (poseforge/models/detectors/center_hand_detector.py)
# with its box codec (../codecs/center_box_256x192.py).
_base_ = ['../codecs/center_box_256x192.py']

model = dict(
    type='CenterHandDetector',
    codec=_base_.codec,
    widths=(16, 32, 64, 96, 128),
    neck_channels=64,
    # channels_last: depthwise-separable convolutions run faster on CPUs in that layout.
    data_preprocessor=dict(type='PoseDataPreprocessor', channels_last=True),
    # A low score threshold for AP (the demo applies its own); at most 10 hands per image.
    test_cfg=dict(max_det=10, score_thr=0.05, iou_thr=0.5),
)
