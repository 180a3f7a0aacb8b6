# 8-stack hourglass baseline (OKDHP's), the authors' schedule.
_base_ = ['./hourglass2_coco-256x192.py']
model = dict(backbone=dict(num_stacks=8))
