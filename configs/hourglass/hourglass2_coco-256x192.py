# 2-stack hourglass baseline (OKDHP's), the authors' schedule; _coco-256x192_data.py has the data.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../_base_/models/hourglass.py', './_coco-256x192_data.py']
model = dict(backbone=dict(num_stacks=2, num_keypoints=17), head=dict(decoder=_base_.codec))
