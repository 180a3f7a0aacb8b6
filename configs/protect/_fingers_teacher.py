# Shared by the finger-subset teachers of the amalgamation table: the protect teacher trained on
# some keypoints only (MaskKeypoints zeroes the others' weights after GenerateTarget), scored
# per task (TaskPCKAccuracy: PCK over each task's keypoints). Leaves set `keep`.
_base_ = ['./teacher_mbv2-w1.0_synth-hands-64.py']
tasks = dict(thumb_index_middle=list(range(0, 13)), middle_ring_little=[0] + list(range(9, 21)))
val_evaluator = [dict(type='TaskPCKAccuracy', tasks=tasks, per_joint=True),
                 dict(type='AUC', norm_factor=30, num_thrs=20), dict(type='EPE')]
test_evaluator = val_evaluator
