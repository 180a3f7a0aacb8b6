# The finger split of the amalgamation table on generated hands, stated once for its teachers
# and its student: teacher A knows the wrist, thumb, index and middle finger (keypoints 0-12),
# teacher B the wrist, middle, ring and little finger (0, 9-20); the wrist and the middle finger
# are known to both. Teachers and student are scored per task (TaskPCKAccuracy: PCK over each
# task's keypoints), then AUC and EPE over all: `val_evaluator = _base_.finger_evaluator` (the
# configs' other bases set val_evaluator too, and mmengine refuses one key from two bases).
tasks = dict(thumb_index_middle=list(range(0, 13)), middle_ring_little=[0] + list(range(9, 21)))
finger_evaluator = [dict(type='TaskPCKAccuracy', tasks=tasks, per_joint=True),
                    dict(type='AUC', norm_factor=30, num_thrs=20), dict(type='EPE')]
