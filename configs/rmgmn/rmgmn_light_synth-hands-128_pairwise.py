# R-MGMN, light variant, stage 2 of 3: the pairwise branch (kernels) and the pool's mixing
# weights train on top of the frozen unary CPM and rotation net of stage 1. Losses: the
# kernels against AGMN's Gaussian targets, and the mixed marginals (which train the mixer).
# Set load_from to stage 1's checkpoint (--cfg-options load_from=...) if yours differs.
_base_ = ['./rmgmn_light_synth-hands-128_unary.py']

model = dict(
    backbone=dict(train_stage='pairwise'),
    head=dict(unary_weight=0.0, marginal_weight=_base_.marginal_scale, kernel_weight=1.0,
              rotation_weight=0.0),
)
load_from = 'work_dirs/rmgmn_light_synth-hands-128_unary/epoch_20.pth'
