# The 368 recipe at a 256x256 crop (32x32 heatmaps): cheaper.
_base_ = ['./cpm_vgg19_synth-hands-368.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(32, 32), sigma=1.0)
model = dict(head=dict(decoder=codec))
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, rotate_factor=60.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
