# CPM on CMU Panoptic HandDB, 368 -> 46: the NSRM paper's setting (a square crop of 2.2x the
# tight keypoint box). Panoptic boxes (mmpose's json, and the originals' rule) are the tight
# keypoint box plus one pixel, so the padding is NSRM's 2.2.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/models/cpm_vgg19_368.py',
          '../_base_/datasets/panoptic_hand.py',
          '../_base_/datasets/_nsrm_pck.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

crop_padding = 2.2
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=crop_padding,
                                                  rotate_factor=60.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# The paper's own PCK (arg-max cells, t x the tight box side) beside the dataset's metrics.
val_evaluator = [*_base_.val_evaluator, _base_.nsrm_pck_metric]
test_evaluator = val_evaluator
