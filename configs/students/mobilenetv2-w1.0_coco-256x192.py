# The MobileNetV2 student on COCO person keypoints (17), alone: the hourglass baselines' data
# (configs/hourglass/_coco-256x192_data.py: 256x192 crops -> 64x48 heatmaps, ground-truth boxes)
# and schedule (Adam 2.5e-4, 150 epochs), width x1.0, a 128-channel decoder to stride 4
# (configs/_base_/models/mobilenetv2-w1.0.py). The "student alone" row of a COCO distillation
# table (configs/kd/kd-hm-fea_hg4-to-mbv2_coco-256x192.py distils the 4-stack hourglass into it
# with the same data, schedule and seed).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_150e.py',
          '../_base_/models/mobilenetv2-w1.0.py', '../hourglass/_coco-256x192_data.py']
model = dict(backbone=dict(num_keypoints=17), head=dict(decoder=_base_.codec))
