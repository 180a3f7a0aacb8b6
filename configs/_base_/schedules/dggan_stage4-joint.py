# DGGAN stage 4: all four networks, one Adam each (lr 1e-4, betas (0.5, 0.999), the paper's),
# 100 epochs as the early code's RHD run.
_adam = dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999)))
optim_wrapper = dict(constructor='MultiOptimWrapperConstructor', pose_net=_adam, generator=_adam,
                     discriminator=_adam, regularizer=_adam)
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
