# CPM (VGG19 trunk, six stages) on COCO person keypoints: 256x192 crops -> 32x24 heatmaps
# (stride 8), sigma 2 as mmpose's td-hm_cpm_8xb64-210e_coco-256x192; flip test on. mmpose's
# 210-epoch Adam 5e-4 schedule (x0.1 at 170 and 200).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/coco.py']

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(24, 32), sigma=2.0)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=17, num_stages=6),
    head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'), decoder=codec),
    # flip_indices come from each sample's meta (the coco17 skeleton's left/right pairs).
    test_cfg=dict(flip_test=True),
)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', prob=0.5),  # swaps left/right joints by the skeleton's flip pairs
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
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

optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200], gamma=0.1, by_epoch=True),
]
train_cfg = dict(by_epoch=True, max_epochs=210, val_interval=10)
auto_scale_lr = dict(base_batch_size=512)
