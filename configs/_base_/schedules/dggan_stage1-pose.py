# DGGAN stage 1: the pose network alone (heatmaps + relative depths), Adam 1e-4. The
# OptimWrapperDict has the pose network only: the other networks stay as they are.
optim_wrapper = dict(constructor='MultiOptimWrapperConstructor',
                     pose_net=dict(optimizer=dict(type='Adam', lr=1e-4)))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
