# The OKDHP authors' hourglass schedule (experiments/*/hourglass/*.yaml): Adam 2.5e-4 (no weight
# decay: their Adam drops it anyway), x0.1 at epochs 90 and 120, 150 epochs, batch 16 on one GPU
# (the leaf's train_dataloader sets the batch).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2.5e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[90, 120], gamma=0.1)]
train_cfg = dict(by_epoch=True, max_epochs=150, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=16)
