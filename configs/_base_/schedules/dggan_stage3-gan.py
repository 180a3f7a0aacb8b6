# DGGAN stage 3: pix2pix, generator and discriminator, Adam 1e-4 with betas (0.5, 0.999).
_adam = dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999)))
optim_wrapper = dict(constructor='MultiOptimWrapperConstructor', generator=_adam,
                     discriminator=_adam)
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=20)
val_cfg = dict()
test_cfg = dict()
