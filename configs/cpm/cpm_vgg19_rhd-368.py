# CPM on RHD, 368 -> 46: the NSRM paper's setting (a square crop of 2.2x the tight keypoint
# box). RHD's boxes (mmpose's json, and the pickle reader's rule) are exactly 1.2x the tight box
# of the visible keypoints, so 2.2 / 1.2 gives NSRM's crop.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/models/cpm_vgg19_368.py',
          '../_base_/datasets/rhd.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

crop_padding = 2.2 / 1.2
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=crop_padding,
                                                  rotate_factor=60.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
