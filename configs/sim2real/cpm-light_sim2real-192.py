# The sim2real model at 192x192 crops (24x24 heatmaps, stride 8): the same light CPM, recipe
# and schedule as cpm-light_sim2real-128.py, 2.25x its pixels, for real hands whose fingers
# are a few pixels wide at 128 (docs/sim2real.md, "Viewpoints").
_base_ = ['./cpm-light_sim2real-128.py']
from poseforge.datasets.transforms.presets import sim2real_pipelines

codec = dict(type='MSRAHeatmap', input_size=(192, 192), heatmap_size=(24, 24), sigma=1.0)
model = dict(head=dict(decoder=codec))
train_pipeline, test_pipeline = sim2real_pipelines(codec)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
