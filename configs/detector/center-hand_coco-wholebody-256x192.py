# The hand detector on COCO-WholeBody's hand boxes (every person's valid left / right hands).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adam_step.py',
          '../_base_/models/center_hand_det.py',
          '../_base_/datasets/hand_boxes_coco_wholebody.py']
from poseforge.datasets.transforms.detection import detection_pipelines

train_pipeline, test_pipeline = detection_pipelines(_base_.codec)
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[40, 55], gamma=0.2)]
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=5)
