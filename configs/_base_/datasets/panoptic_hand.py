# CMU Panoptic HandDB (poseforge.datasets.panoptic_hand), 21 keypoints, with head_size and
# hand_side; layout in datasets/panoptic_hand/README.md. Reads mmpose's converted json (below:
# train = hand143_panopticdb + MPII/NZSL manual_train, test = manual_test, as Simon et al.) or
# the originals: ann_file='hand_labels/manual_train' (a folder) or
# 'hand143_panopticdb/hands_v143_14817.json'. The originals carry no head size, so evaluate
# PCKh@0.7 on mmpose's json. data_prefix is left out on purpose: each format has its own
# default. Leaf configs add `pipeline=...` to each dataloader's dataset.
_base_ = ['./_topdown_loaders.py']

dataset_type = 'PanopticHandDataset'
data_root = 'data/panoptic'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/panoptic_train.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/panoptic_test.json', test_mode=True))
test_dataloader = val_dataloader

# mmpose reports CMU Panoptic as PCKh@0.7 (distance / the hand's head_size), AUC over 0..30 px
# and EPE (px); PCK@0.2 of the box's longer side is added for comparison with the other hands.
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.7, norm_item='head'),
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
