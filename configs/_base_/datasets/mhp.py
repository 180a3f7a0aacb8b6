# MHP (Large-scale Multiview 3D Hand Pose Dataset, Gomez-Donoso et al.), original layout,
# 21 keypoints, one instance per (frame, webcam), top-down.
# Split of DGGAN's code: train data_3..data_21, validate data_1..data_2. root='palm' keeps
# Leap Motion's palm centre as joint 0 (root='wrist' derives a wrist:
# poseforge/datasets/hand_conversions.py). Leaf configs add `pipeline=...` to each dataloader's
# dataset. Layout: datasets/mhp/README.md.
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py']

dataset_type = 'MhpDataset'
data_root = 'data/mhp'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train', root='palm'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='val', root='palm',
                 test_mode=True))
test_dataloader = val_dataloader
