# The per-frame 3D estimator (heatmaps + relative depth, 3D labels) on the generated sequences,
# the baseline of the TASSN table: hand3d_cpm-light_synth-hands-128.py with the sequence data
# and the temporal metrics (frames evaluated one by one, then ordered by sequence and frame).
_base_ = ['../hand3d/hand3d_cpm-light_synth-hands-128.py',
          '../_base_/datasets/_temporal_metrics.py']

data_root = 'data/synth_seq'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator
