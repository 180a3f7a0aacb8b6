# Adam with a step decay: the CPM/NSRM recipe (Adam 1e-4, x0.5 at epoch 40 of 45).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.5)]
train_cfg = dict(by_epoch=True, max_epochs=45, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
