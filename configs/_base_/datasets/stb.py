# STB (Stereo Hand Pose Tracking Benchmark), original layout, 21 keypoints, top-down.
# Split of hand3d / DGGAN: train B2-B6 (Counting + Random), test B1Counting + B1Random.
# camera='SK' (RealSense colour, 640x480); root='palm' keeps STB's palm centre as joint 0
# (root='wrist' derives a wrist: poseforge/datasets/hand_conversions.py). Leaf configs add
# `pipeline=...` to each dataloader's dataset. Layout: datasets/stb/README.md.
dataset_type = 'StbDataset'
data_root = 'data/stb'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', camera='SK',
                 root='palm'),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', camera='SK',
                 root='palm', test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# 2D evaluation of the projected keypoints (a 3D model adds dict(type='Hand3DMetric')).
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
