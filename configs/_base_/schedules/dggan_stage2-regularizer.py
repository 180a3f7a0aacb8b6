# DGGAN stage 2: the depth regulariser alone, L1 between its rendering of the ground-truth pose
# and the real depth map, Adam 1e-4.
optim_wrapper = dict(constructor='MultiOptimWrapperConstructor',
                     regularizer=dict(optimizer=dict(type='Adam', lr=1e-4)))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=20)
val_cfg = dict()
test_cfg = dict()
