# mmpose's body recipe: Adam 5e-4 with a 500-iteration linear warm-up, x0.1 at epochs 170 and
# 200 of 210, validation every 10 epochs.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200], gamma=0.1, by_epoch=True),
]
train_cfg = dict(by_epoch=True, max_epochs=210, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
