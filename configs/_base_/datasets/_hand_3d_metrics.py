# How 3D hand models are reported: the hand3d / DGGAN 3D protocol first (root-relative EPE in mm
# and AUC over 20-50 mm, the 3D reconstructed with the ground-truth root depth and reference
# bone length: names end in /gt-root-depth+bone), then the same for the reconstruction that is
# given nothing (root depth solved from the 2D and relative depths, size from the model's
# bone_length_prior: /no-gt), then the 2D hand metrics. The root ('auto': joint 0, the wrist,
# or the palm centre on STB / MHP loaded with root='palm') is named in every 3D metric; set
# root='palm' for hand3d's palm centre 0.5 (wrist + middle MCP) on wrist-rooted data.
# Dataset bases already set val_evaluator (2D): a leaf takes these with
# `val_evaluator = _base_.hand3d_evaluator` (mmengine refuses one key from two bases).
hand3d_evaluator = [
    dict(type='Hand3DMetric', root='auto', pred_key='pred_keypoints_3d'),
    dict(type='Hand3DMetric', root='auto', pred_key='pred_keypoints_3d_est', scale_align=False),
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
