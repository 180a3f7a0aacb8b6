# Generated synthetic hands (tools/generate_dataset.py), 21 keypoints, top-down.
# Leaf configs add `pipeline=...` to each dataloader's dataset (crop and heatmap sizes live
# with the model).
_base_ = ['./_topdown_loaders.py', './_hand_2d_metrics.py']

dataset_type = 'SynthHandDataset'
data_root = 'data/synth_hands'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/train.json',
                 data_prefix=dict(img='images/train/')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/test.json',
                 data_prefix=dict(img='images/test/'), test_mode=True))
test_dataloader = val_dataloader
