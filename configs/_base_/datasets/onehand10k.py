# OneHand10K (poseforge.datasets.onehand10k), 21 keypoints, top-down; layout in
# datasets/onehand10k/README.md. Reads mmpose's converted json (below) or the release's
# label_joint.txt: set ann_file='Train/label_joint.txt' / 'Test/label_joint.txt' (images are
# then looked up in the 'source' folder beside it). data_prefix is left out on purpose: each
# format has its own default (the dataset root for the json, whose file_name carries
# Train/source/...). Leaf configs add `pipeline=...` to each dataloader's dataset.
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py']

dataset_type = 'OneHand10KDataset'
data_root = 'data/onehand10k'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/onehand10k_train.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/onehand10k_test.json', test_mode=True))
test_dataloader = val_dataloader
