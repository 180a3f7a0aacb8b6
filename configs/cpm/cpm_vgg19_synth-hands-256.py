# The 368 recipe at a 256x256 crop (32x32 heatmaps): cheaper, and the benchmark's second size.
_base_ = ['./cpm_vgg19_synth-hands-368.py']

codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(32, 32), sigma=1.0)
model = dict(head=dict(decoder=codec))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomBBoxTransform', rotate_factor=60.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PhotometricAug'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
