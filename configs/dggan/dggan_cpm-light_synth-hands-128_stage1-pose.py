# DGGAN stage 1 of 4, generated hands: the pose network alone (heatmaps + relative depths; the
# early code pretrains 2D only: add model.pose_depth_weight=0). Next: _stage2-regularizer.py.
# CPU schedule: the quick start's Adam 2e-3 with its step decay, 10 epochs.
_base_ = ['./_dggan_cpm-light_synth-hands-128.py', '../_base_/schedules/dggan_stage1-pose.py']

model = dict(stage='pose')
optim_wrapper = dict(pose_net=dict(optimizer=dict(lr=2e-3)))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[7, 9], gamma=0.2)]
train_cfg = dict(max_epochs=10, val_interval=5)
