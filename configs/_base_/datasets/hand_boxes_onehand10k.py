# OneHand10K hand boxes (mmpose's converted json: one hand per image, side unknown), for the
# hand detector. Layout: datasets/onehand10k/README.md. Leaf configs add `pipeline=...`.
_base_ = ['./_topdown_loaders.py']

dataset_type = 'HandBoxDataset'
data_root = 'data/onehand10k'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, box_source='bbox',
                 ann_file='annotations/onehand10k_train.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, box_source='bbox',
                 ann_file='annotations/onehand10k_test.json', test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='HandBoxAP')
test_evaluator = val_evaluator
