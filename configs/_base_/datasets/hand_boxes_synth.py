# Hand boxes from the generated hands (tools/generate_dataset.py --out data/synth_hands_real,
# with masks, in the generator's default realistic look), composited on new backgrounds: 0-2
# hands per 320x240 picture, random size, rotation, mirror (left hands) and position
# (poseforge/datasets/hand_boxes.py). The test split is composited too, from a fixed seed, so
# it is the same pictures every run. Leaf configs add `pipeline=...`.
_base_ = ['./_topdown_loaders.py']

dataset_type = 'SynthHandBoxDataset'
data_root = 'data/synth_hands_real'
composite = dict(canvas_size=(320, 240), max_hands=2, scale_range=(0.1, 0.8), max_angle=45.0,
                 backgrounds=None)

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/train.json',
                 composite=composite))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/test.json',
                 composite=dict(composite, seed=0), test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='HandBoxAP')
test_evaluator = val_evaluator
