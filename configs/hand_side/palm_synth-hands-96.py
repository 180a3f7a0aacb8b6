# The demo's hand-side model: does the palm or the back face the camera (PalmClassifier), on
# 96x96 crops of generated hands in the realistic look; the demo turns it into left/right with
# the pose network's keypoints (poseforge/codecs/hand_side.py). Data: the detector's
# (tools/generate_dataset.py --out data/synth_hands_real --num 1500 --views 2 --size 256 --seed 0).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synth_hands.py']
from poseforge.datasets.transforms.presets import palm_classifier_pipelines

# 96 px and 50 epochs: palm acc 0.833 on the test split, against 0.797 for 64 px and 30 epochs
# (README, demo section).
input_size = (96, 96)
model = dict(type='PalmClassifier', input_size=input_size,
             data_preprocessor=dict(type='PoseDataPreprocessor', channels_last=True))

# Hands turn every way in front of a webcam: in-plane rotation over +-90 degrees.
train_pipeline, test_pipeline = palm_classifier_pipelines(input_size, padding=1.25,
                                                          rotate_factor=90.0,
                                                          scale_factor=(0.75, 1.25))
data_root = 'data/synth_hands_real'
train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='HandSideAccuracy')]
test_evaluator = val_evaluator

max_epochs = 50
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=3e-3,
                                                         weight_decay=1e-4))
param_scheduler = [dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.2, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=10, save_best=None))
