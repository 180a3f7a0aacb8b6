# OneHand10K (poseforge.datasets.onehand10k), 21 keypoints, top-down; layout in
# datasets/onehand10k/README.md. Reads mmpose's converted json (below) or the release's
# label_joint.txt: set ann_file='Train/label_joint.txt' / 'Test/label_joint.txt' (images are
# then looked up in the 'source' folder beside it). data_prefix is left out on purpose: each
# format has its own default (the dataset root for the json, whose file_name carries
# Train/source/...). Leaf configs add `pipeline=...` to each dataloader's dataset.
dataset_type = 'OneHand10KDataset'
data_root = 'data/onehand10k'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/onehand10k_train.json'),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/onehand10k_test.json', test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# As mmpose reports OneHand10K: PCK@0.2 of the box's longer side, AUC over 0..30 px, EPE (px).
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
