# TASSN, 2D labels only, on generated hand sequences (light CPM, 128 x 128 crops, CPU):
#   python tools/generate_dataset.py --out data/synth_seq --num 48 --views 2 --size 128 \
#       --sequence-length 16
# Clips of 8 frames (one augmentation per clip), 4 clips a batch = 32 frames, as the per-frame
# 3D estimator's batch (hand3d_cpm-light_synth-seq-128.py). The pipeline still makes
# relative-depth targets (the 3D variant uses them); with depth3d=0 the model never reads them.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/datasets/synth_hands.py', '../_base_/datasets/_hand_3d_metrics.py',
          '../_base_/datasets/_temporal_metrics.py',
          '../_base_/models/tassn_cpm-light_128.py']
from poseforge.datasets.clips import clip_dataloaders
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

model = dict(test_cfg=dict(bone_length_prior=45.0))  # the generated hands' mean MCP -> PIP
train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, rotate_factor=45.0,
    scale_factor=(0.75, 1.25))

data_root = 'data/synth_seq'
train_dataloader, val_dataloader = clip_dataloaders(
    dict(_base_.train_dataloader.dataset, data_root=data_root),
    dict(_base_.val_dataloader.dataset, data_root=data_root), train_pipeline, test_pipeline)
test_dataloader = val_dataloader
# ClipDataset reports frames, not clips: these loops tell the metrics how many
val_cfg = dict(type='ClipValLoop')
test_cfg = dict(type='ClipTestLoop')
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[14, 18], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
