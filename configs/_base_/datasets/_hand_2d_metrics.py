# How hands are reported in 2D (as mmpose reports OneHand10K, RHD and the others): PCK@0.2 of
# the box's longer side, AUC over 0..30 px, end-point error in px.
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
