# DGGAN's optimisers: one Adam per network (lr 1e-4, betas (0.5, 0.999), the paper's and
# pix2pix's), built by poseforge.engine.multi_optim.MultiOptimWrapperConstructor into an
# OptimWrapperDict. A stage steps only the networks it trains (poseforge/models/dggan/dggan.py);
# a network left out of this dict is frozen. Constant learning rate.
_adam = dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999)))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    pose_net=_adam, generator=_adam, discriminator=_adam, regularizer=_adam)
param_scheduler = []
val_cfg = dict()
test_cfg = dict()
