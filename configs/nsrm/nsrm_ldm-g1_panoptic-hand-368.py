# NSRM, LDM G1, on CMU Panoptic HandDB (tight keypoint boxes: NSRM's 2.2x crop).
# Limb-loss weights: as the original configs/LDM_G1.json.
_base_ = ['./_nsrm_vgg19_368.py', '../_base_/datasets/panoptic_hand.py']

model = dict(backbone=dict(limb_channels=1),
             head=dict(mask_type='ldm', grouping='G1', limb_weight=1.0))
train_dataloader = dict(dataset=dict(pipeline=_base_.panoptic_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.panoptic_test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.panoptic_test_pipeline))
# The paper's own PCK (arg-max cells, t x the tight box side) beside the dataset's metrics.
val_evaluator = [*_base_.val_evaluator, _base_.nsrm_pck_metric]
test_evaluator = val_evaluator
