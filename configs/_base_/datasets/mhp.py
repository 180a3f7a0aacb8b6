# MHP (Large-scale Multiview 3D Hand Pose Dataset, Gomez-Donoso et al.), original layout,
# 21 keypoints, one instance per (frame, webcam), top-down.
# Split of DGGAN's code: train data_3..data_21, validate data_1..data_2. root='palm' keeps
# Leap Motion's palm centre as joint 0 (root='wrist' derives a wrist:
# poseforge/datasets/hand_conversions.py). Leaf configs add `pipeline=...` to each dataloader's
# dataset. Layout: datasets/mhp/README.md.
dataset_type = 'MhpDataset'
data_root = 'data/mhp'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', root='palm'),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', root='palm',
                 test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# 2D evaluation of the projected keypoints (a 3D model adds dict(type='Hand3DMetric')).
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
