# The student of the model-protection tables, and their shared budget: the CPU demo student
# (configs/students/mobilenetv2-w0.5_synth-hands-64.py: MobileNetV2 x0.5, 64x64 crops, 16x16
# maps) with Gaussians of sigma 2 (sigma 1 on a 16x16 grid barely started to learn in 250
# iterations here) and 8 epochs (x0.2 at 6 and 7). Every row of configs/protect/ (teachers,
# nasty teacher, box, students, amalgamation) trains with this data, schedule and seed.
_base_ = ['../students/mobilenetv2-w0.5_synth-hands-64.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
model = dict(head=dict(decoder=codec))
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, rotate_factor=45.0,
                                                  scale_factor=(0.75, 1.25))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[6, 7], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=8)
default_hooks = dict(checkpoint=dict(interval=8))
