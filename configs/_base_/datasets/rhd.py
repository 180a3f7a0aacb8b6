# RHD, the Rendered Hand Pose Dataset (poseforge.datasets.rhd), 21 keypoints reordered to hand21,
# with keypoints_3d (mm), K and hand_side; layout in datasets/rhd/README.md. Reads mmpose's
# converted json (below) or the release pickle: set ann_file='training/anno_training.pickle' /
# 'evaluation/anno_evaluation.pickle' (images are then looked up in the 'color' folder beside
# it; `min_visible_keypoints` chooses which hands count). data_prefix is left out on purpose:
# each format has its own default. Leaf configs add `pipeline=...` to each dataloader's dataset.
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py']

dataset_type = 'RhdDataset'
data_root = 'data/rhd'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/rhd_train.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/rhd_test.json',
                 test_mode=True))
test_dataloader = val_dataloader
