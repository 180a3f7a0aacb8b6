# 2-stack hourglass baseline (OKDHP's), the authors' schedule; _mpii-256_data.py has the data.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../_base_/models/hourglass.py', './_mpii-256_data.py']
model = dict(backbone=dict(num_stacks=2, num_keypoints=16), head=dict(decoder=_base_.codec))
