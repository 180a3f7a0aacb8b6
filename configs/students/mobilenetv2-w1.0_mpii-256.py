# The MobileNetV2 student on MPII (16 keypoints), alone: the hourglass baselines' data
# (configs/hourglass/_mpii-256_data.py: 256x256 crops -> 64x64 heatmaps) and schedule (Adam
# 2.5e-4, 150 epochs), width x1.0, a 128-channel decoder to stride 4
# (configs/_base_/models/mobilenetv2-w1.0.py). The "student alone" row of an MPII distillation
# table (configs/kd/kd-hm-fea_hg4-to-mbv2_mpii-256.py).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../_base_/models/mobilenetv2-w1.0.py', '../hourglass/_mpii-256_data.py']
model = dict(backbone=dict(num_keypoints=16), head=dict(decoder=_base_.codec))
