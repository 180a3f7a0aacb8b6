# DGGAN stage 1 of 4, generated hands: the pose network alone (heatmaps + relative depths; the
# early code pretrains 2D only: add model.pose_depth_weight=0). Next: _stage2-regularizer.py.
_base_ = ['./_dggan_cpm-light_synth-hands-128.py']

model = dict(stage='pose')
optim_wrapper = dict(_delete_=True, constructor='MultiOptimWrapperConstructor',
                     pose_net=dict(optimizer=dict(type='Adam', lr=2e-3)))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[7, 9], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=5)
