# Generated hands for real images (tools/sim2real.py): the quick start's light CPM, data and
# schedule (configs/quickstart/cpm-light_synth-hands-128.py), with the photometric recipe set
# from the gap between generated and real input crops (PhotometricAug 'sim2real',
# poseforge/datasets/transforms/photometric.py) instead of the default one.
_base_ = ['../quickstart/cpm-light_synth-hands-128.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

# In-plane rotation over the whole circle (sd 180 degrees, clipped at +-360, 60% of crops): the
# generator frames hands near upright (5% of its hands are turned more than 60 degrees), real
# photos do not (half of the fixture hands are; `tools/sim2real.py --gap`, README).
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, rotate_factor=180.0,
                                                  scale_factor=(0.75, 1.25))
train_pipeline = [dict(t, transforms='sim2real') if t['type'] == 'PhotometricAug' else t
                  for t in train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
