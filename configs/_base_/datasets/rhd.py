# RHD, the Rendered Hand Pose Dataset (poseforge.datasets.rhd), 21 keypoints reordered to hand21,
# with keypoints_3d (mm), K and hand_side; layout in datasets/rhd/README.md. Reads mmpose's
# converted json (below) or the release pickle: set ann_file='training/anno_training.pickle' /
# 'evaluation/anno_evaluation.pickle' (images are then looked up in the 'color' folder beside
# it; `min_visible_keypoints` chooses which hands count). data_prefix is left out on purpose:
# each format has its own default. Leaf configs add `pipeline=...` to each dataloader's dataset.
dataset_type = 'RhdDataset'
data_root = 'data/rhd'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/rhd_train.json'),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/rhd_test.json',
                 test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# As mmpose reports RHD 2D: PCK@0.2 of the box's longer side, AUC over 0..30 px, EPE (px).
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
