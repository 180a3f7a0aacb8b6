# The teacher of the configs/kd/ table: the quick start's light CPM (128x128 crops, 16x16 maps,
# 0.49 GFLOP) on the same generated hands, 10 epochs (x0.2 at 7 and 9) instead of the quick
# start's 20: the budget this shared 2-core machine allowed (see README "Distillation").
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[7, 9], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=5)
