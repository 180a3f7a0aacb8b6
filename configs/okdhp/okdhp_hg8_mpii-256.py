# OKDHP on the 8-stack hourglass: 6 shared stacks, 3 branches of 2 stacks each (the
# authors' hourglass_okd_share_less.py); the exported student is a plain 8-stack hourglass.
_base_ = ['./okdhp_hg2_mpii-256.py']
model = dict(student=dict(backbone=dict(num_stacks=8)))
