# CPM (NSRM authors' hand variant: VGG19 trunk, six 7x7 stages) on STB
# (SK colour camera, palm-centre root), 368 -> 46. Evaluated in 2D (PCK@0.2,
# AUC, EPE) on the projected labels.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/stb.py']

codec = dict(type='MSRAHeatmap', input_size=(368, 368), heatmap_size=(46, 46), sigma=1.0)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=21, num_stages=6),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'), decoder=codec),
    test_cfg=dict(flip_test=False),
)

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
