# DGGAN stage1 (pose) on MHP: the pose network alone.
_base_ = ['./_dggan_cpm-vgg19_mhp-256.py', '../_base_/schedules/dggan_stage1-pose.py']

model = dict(stage='pose')
