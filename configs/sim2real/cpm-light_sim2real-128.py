# Generated hands for real images (tools/sim2real.py): the quick start's light CPM, data and
# schedule (configs/quickstart/cpm-light_synth-hands-128.py), with the photometric recipe set
# from the gap between generated and real input crops (PhotometricAug 'sim2real',
# poseforge/datasets/transforms/photometric.py) instead of the default one.
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']
from poseforge.datasets.transforms.presets import sim2real_pipelines

# The sim2real photometric recipe and in-plane rotation over the whole circle (the generator
# frames hands near upright, real photos do not; see sim2real_pipelines).
train_pipeline, test_pipeline = sim2real_pipelines(_base_.codec)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
