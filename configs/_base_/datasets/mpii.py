# MPII Human Pose (16 joints), top-down; layout in datasets/mpii/README.md.
# The HRNet/mmpose json split (22246 training / 2958 validation people); the validation head
# boxes (PCKh normaliser) come from mpii_gt_val.mat. Leaf configs add `pipeline=...` to each
# dataloader's dataset.
dataset_type = 'MpiiDataset'
data_root = 'data/mpii/'

_loader = dict(
    num_workers=2,
    persistent_workers=True,
    # Scope-qualified: mmengine's Runner looks collate functions up with get(), not build().
    collate_fn=dict(type='poseforge.pose_collate'),
)
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/mpii_train.json',
                 data_prefix=dict(img='images/')),
    **_loader)
val_dataloader = dict(
    batch_size=32,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/mpii_val.json',
                 headbox_file='annotations/mpii_gt_val.mat', data_prefix=dict(img='images/'),
                 test_mode=True),
    **_loader)
test_dataloader = val_dataloader

# The benchmark's PCKh table at 0.5 (head size = 0.6 x head-box diagonal), and the mean at 0.1.
val_evaluator = dict(type='MpiiPCKh', thr=0.5, also=(0.1, ))
test_evaluator = val_evaluator
