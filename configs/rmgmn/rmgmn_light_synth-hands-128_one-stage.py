# R-MGMN, light variant, trained in one stage from scratch with every loss on (unary maps,
# marginals, kernel targets, rotation) and the quick start's optimiser and schedule: the
# same-budget entry of tools/compare.py. The staged recipe (_unary -> _pairwise -> _joint) is
# AGMN's and the one to use for best accuracy.
_base_ = ['./rmgmn_light_synth-hands-128_joint.py']

model = dict(
    backbone=dict(train_stage=None),
    head=dict(unary_weight=1.0, marginal_weight=_base_.marginal_scale, kernel_weight=1.0,
              rotation_weight=1.0),
)
load_from = None
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[14, 18], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
