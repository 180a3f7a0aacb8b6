# MPII for the hourglass and OKDHP configs, as the OKDHP authors train it: 256x256 crops ->
# 64x64 heatmaps, sigma 2; rotation +-30 deg (clipped normal, probability 0.6), scale +-0.25,
# flip; no box shift, no photometric augmentation; batch 16.
_base_ = ['../_base_/datasets/mpii.py', '../_base_/codecs/msra_256_stride4.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, photometric=False,
                                                  shift_prob=0.0, rotate_factor=30.0,
                                                  scale_factor=0.25)
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
