# R-MGMN, light variant, stage 1 of 3 (AGMN's schedule: unary, pairwise, joint fine-tune):
# the unary CPM and the rotation net train; the pairwise branch is frozen and not run.
# 128x128 crops -> 16x16 maps; 11x11 edge kernels (radius 5 cells = 40 px, enough for the
# longest hand limb in these crops); a pool of 3 graphical models.
# Next: rmgmn_light_synth-hands-128_pairwise.py (loads this stage's last checkpoint).
_base_ = ['../quickstart/cpm-light_synth-hands-128.py', '../_base_/models/rmgmn_hand21.py']

model = dict(
    backbone=dict(_delete_=True, **_base_.rmgmn_backbone, unary=dict(arch='light_s8'),
                  pairwise=dict(arch='light_s8'), kernel_size=11, train_stage='unary'),
    head=dict(_delete_=True, **_base_.rmgmn_head, decoder=_base_.codec, unary_weight=1.0,
              marginal_weight=0.0, kernel_weight=0.0, rotation_weight=1.0),
)
