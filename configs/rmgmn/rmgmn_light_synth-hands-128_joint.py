# R-MGMN, light variant, stage 3 of 3: joint fine-tune of everything on the marginals (AGMN's
# default loss coefficients [1, 0, 0]) plus the rotation loss, at a tenth of the learning rate,
# for a few epochs (AGMN: 10 epochs at 1e-5 after 100 + 100 at 1e-4).
_base_ = ['./rmgmn_light_synth-hands-128_pairwise.py']

model = dict(
    backbone=dict(train_stage='joint'),
    head=dict(unary_weight=0.0, marginal_weight=_base_.marginal_scale, kernel_weight=0.0,
              rotation_weight=1.0),
)
load_from = 'work_dirs/rmgmn_light_synth-hands-128_pairwise/epoch_20.pth'
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.5)]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
