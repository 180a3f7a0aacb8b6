# MPII Human Pose (16 joints), top-down; layout in datasets/mpii/README.md.
# The HRNet/mmpose json split (22246 training / 2958 validation people); the validation head
# boxes (PCKh normaliser) come from mpii_gt_val.mat. Leaf configs add `pipeline=...` to each
# dataloader's dataset.
_base_ = ['./_topdown_loaders.py']

dataset_type = 'MpiiDataset'
data_root = 'data/mpii/'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/mpii_train.json',
                 data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/mpii_val.json',
                 headbox_file='annotations/mpii_gt_val.mat', data_prefix=dict(img='images/'),
                 test_mode=True))
test_dataloader = val_dataloader

# The benchmark's PCKh table at 0.5 (head size = 0.6 x head-box diagonal), and the mean at 0.1.
val_evaluator = dict(type='MpiiPCKh', thr=0.5, also=(0.1, ))
test_evaluator = val_evaluator
