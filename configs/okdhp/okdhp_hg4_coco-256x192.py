# OKDHP on the 4-stack hourglass: 2 shared stacks, 3 branches of 2 stacks each (the
# authors' hourglass_okd_share_less.py); the exported student is a plain 4-stack hourglass.
_base_ = ['./okdhp_hg2_coco-256x192.py']
model = dict(student=dict(backbone=dict(num_stacks=4)))
