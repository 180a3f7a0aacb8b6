# Shared by the finger-subset teachers of the amalgamation table: the protect teacher trained on
# some keypoints only (MaskKeypoints zeroes the others' weights after GenerateTarget), scored
# per task (TaskPCKAccuracy: PCK over each task's keypoints). Leaves set `keep` (a task
# of _finger_split.py).
_base_ = ['./teacher_mbv2-w1.0_synth-hands-64.py', './_finger_split.py']
val_evaluator = _base_.finger_evaluator
test_evaluator = val_evaluator
