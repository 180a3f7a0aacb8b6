# OKDHP on the 2-stack hourglass: the stem shared, 3 branches of 2 stacks each; the exported
# student is a plain 2-stack hourglass (tools/export_student.py).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../_base_/models/hourglass_okdhp.py', '../hourglass/_mpii-256_data.py']
model = dict(student=dict(backbone=dict(num_stacks=2, num_keypoints=16),
                          head=dict(decoder=_base_.codec)))
