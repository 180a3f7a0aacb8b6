# The teacher of the configs/protect/ tables: MobileNetV2 x1.0 (64-channel decoder) on the same
# 64x64 crops, 16x16 maps, data, schedule and seed as the x0.5 student
# (student_mbv2-w0.5_synth-hands-64.py): a light pair so every row of the model-protection
# tables trains in minutes on a CPU.
_base_ = ['./student_mbv2-w0.5_synth-hands-64.py']
model = dict(backbone=dict(widen_factor=1.0, head_channels=64))
