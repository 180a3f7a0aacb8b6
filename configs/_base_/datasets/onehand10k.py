# OneHand10K (poseforge.datasets.onehand10k), 21 keypoints, top-down; layout in
# datasets/onehand10k/README.md. Reads mmpose's converted json (below) or the release's
# label_joint.txt: set ann_file='Train/label_joint.txt' / 'Test/label_joint.txt' (images are
# then looked up in the 'source' folder beside it). data_prefix is left out on purpose: each
# format has its own default (the dataset root for the json, whose file_name carries
# Train/source/...). Leaf configs add `pipeline=...` to each dataloader's dataset.
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py', './_onehand10k_sets.py']

dataset_type = _base_.onehand10k_sets.train.type
data_root = _base_.onehand10k_sets.train.data_root

train_dataloader = dict(dataset=_base_.onehand10k_sets.train)
val_dataloader = dict(dataset=dict(_base_.onehand10k_sets.test, test_mode=True))
test_dataloader = val_dataloader
