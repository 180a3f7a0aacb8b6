# COCO-WholeBody hand boxes (lefthand_box / righthand_box where *_valid): every hand of every
# person, side known. Images: COCO 2017. Leaf configs add `pipeline=...`.
_base_ = ['./_topdown_loaders.py']

dataset_type = 'HandBoxDataset'
data_root = 'data/coco/'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, box_source='wholebody',
                 ann_file='annotations/coco_wholebody_train_v1.0.json',
                 data_prefix=dict(img='train2017/')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, box_source='wholebody',
                 ann_file='annotations/coco_wholebody_val_v1.0.json',
                 data_prefix=dict(img='val2017/'), test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='HandBoxAP')
test_evaluator = val_evaluator
