# Temporal smoothness of both 3D predictions (acceleration error mm/frame^2, jitter mm/frame^3,
# root-relative), for video configs beside the hand3d evaluator (_hand_3d_metrics.py):
# `val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator`.
temporal_evaluator = [
    dict(type='TemporalSmoothness', pred_key='pred_keypoints_3d'),
    dict(type='TemporalSmoothness', pred_key='pred_keypoints_3d_est'),
]
