# The 368 recipe at a 256x256 crop (32x32 heatmaps): cheaper. The model of
# ../_base_/models/cpm_vgg19_368.py with the 256 codec (../_base_/codecs/msra_256.py), and its
# objective: the papers' MSE, sum / (B*H*W) per stage summed over the keypoint maps.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/codecs/msra_256.py', '../_base_/datasets/synth_hands.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='CPM', arch='vgg19', num_keypoints=21, num_stages=6),
    head=dict(type='MultiStageHeatmapHead',
              loss=dict(type='KeypointMSELoss', keypoint_reduction='sum'),
              decoder=_base_.codec),
    test_cfg=dict(flip_test=False),
)
train_pipeline, test_pipeline = topdown_pipelines(_base_.codec, padding=1.25, rotate_factor=60.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
