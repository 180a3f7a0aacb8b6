# Knowledge amalgamation on generated hands split by fingers: teacher A knows the wrist, thumb,
# index and middle finger, teacher B the wrist, middle, ring and little finger (each trained
# with the other keypoints' weights at 0); the x0.5 student (shared trunk, one 1x1 head per
# teacher task, merged into its last conv at export) learns all 21 keypoints from their heatmaps
# alone (no labels): heatmap MSE per head + common feature learning (alignment convs, shared
# extractor, multi-kernel MMD, reconstruction of each teacher's decoder feature). Same data,
# schedule and seed as the other rows; metrics per teacher task (TaskPCKAccuracy).
_base_ = ['./student_mbv2-w0.5_synth-hands-64.py', './_finger_split.py']
work = 'work_dirs/protect_table/'
model = dict(
    _delete_=True, type='AmalgamationDistiller', student={{_base_.model}},
    teachers=[
        dict(name='thumb_index_middle', model='{{ fileDirname }}/'
             'teacher-fingers-a_mbv2-w1.0_synth-hands-64.py',
             checkpoint=work + 'teacher-fingers-a_mbv2-w1.0_synth-hands-64/epoch_8.pth',
             keypoints=_base_.tasks['thumb_index_middle']),
        dict(name='middle_ring_little', model='{{ fileDirname }}/'
             'teacher-fingers-b_mbv2-w1.0_synth-hands-64.py',
             checkpoint=work + 'teacher-fingers-b_mbv2-w1.0_synth-hands-64/epoch_8.pth',
             keypoints=_base_.tasks['middle_ring_little']),
    ],
    kd=dict(mode='mse'), kd_weight=1.0, mmd_weight=1.0, recon_weight=1.0, select='none')
val_evaluator = _base_.finger_evaluator
test_evaluator = val_evaluator
