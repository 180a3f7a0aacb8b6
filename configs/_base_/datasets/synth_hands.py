# Generated synthetic hands (tools/generate_dataset.py), 21 keypoints, top-down.
# Leaf configs add `pipeline=...` to each dataloader's dataset (crop and heatmap sizes live
# with the model).
dataset_type = 'SynthHandDataset'
data_root = 'data/synth_hands'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/train.json',
                 data_prefix=dict(img='images/train/')),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/test.json',
                 data_prefix=dict(img='images/test/'), test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# Hands: PCK@0.2 of the box's longer side, AUC over 0..30 px, end-point error in px.
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2, norm_item='bbox'),
    dict(type='AUC', norm_factor=30, num_thrs=20),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
