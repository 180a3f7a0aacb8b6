# DGGAN stage1 (pose) on STB: the pose network alone.
_base_ = ['./_dggan_cpm-vgg19_stb-256.py', '../_base_/schedules/dggan_stage1-pose.py']

model = dict(stage='pose')
