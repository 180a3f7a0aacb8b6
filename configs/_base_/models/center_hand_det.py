# The light centre-point hand detector (poseforge/models/detectors/center_hand_detector.py):
# 256x192 letterboxed input (a 4:3 webcam frame scaled by 0.4), outputs at stride 8.
det_input_size = (256, 192)
model = dict(
    type='CenterHandDetector',
    input_size=det_input_size,
    widths=(16, 32, 64, 96, 128),
    neck_channels=64,
    # channels_last: depthwise-separable convolutions run faster on CPUs in that layout.
    data_preprocessor=dict(type='PoseDataPreprocessor', channels_last=True),
    # A low score threshold for AP (the demo applies its own); at most 10 hands per image.
    test_cfg=dict(max_det=10, score_thr=0.05, iou_thr=0.5),
)
