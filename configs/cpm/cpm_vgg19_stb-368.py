# CPM on STB (SK colour camera, palm-centre root), 368 -> 46; evaluated in 2D (PCK@0.2, AUC,
# EPE) on the projected labels.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/models/cpm_vgg19_368.py',
          '../_base_/datasets/stb.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, rotate_factor=60.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
