# 4-stack hourglass baseline (OKDHP's), the authors' schedule.
_base_ = ['./hourglass2_mpii-256.py']
model = dict(backbone=dict(num_stacks=4))
