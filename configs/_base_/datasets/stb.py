# STB (Stereo Hand Pose Tracking Benchmark), original layout, 21 keypoints, top-down.
# Split of hand3d / DGGAN: train B2-B6 (Counting + Random), test B1Counting + B1Random.
# camera='SK' (RealSense colour, 640x480); root='palm' keeps STB's palm centre as joint 0
# (root='wrist' derives a wrist: poseforge/datasets/hand_conversions.py). Leaf configs add
# `pipeline=...` to each dataloader's dataset. Layout: datasets/stb/README.md.
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py']

dataset_type = 'StbDataset'
data_root = 'data/stb'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train', camera='SK',
                 root='palm'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test', camera='SK',
                 root='palm', test_mode=True))
test_dataloader = val_dataloader
