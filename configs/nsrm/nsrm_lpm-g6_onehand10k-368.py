# NSRM, LPM G6, on OneHand10K (hand boxes 1.2x the keypoint box: NSRM's 2.2x crop).
# Limb-loss weights: G1's (none published for G6 alone; see NSRMHead).
_base_ = ['./_nsrm_vgg19_368.py', '../_base_/datasets/onehand10k.py']

model = dict(backbone=dict(limb_channels=6),
             head=dict(mask_type='lpm', grouping='G6', limb_weight=0.5))
train_dataloader = dict(dataset=dict(pipeline=_base_.onehand10k_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.onehand10k_test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.onehand10k_test_pipeline))
# The paper's own PCK (arg-max cells, t x the tight box side) beside the dataset's metrics.
val_evaluator = [*_base_.val_evaluator, _base_.nsrm_pck_metric]
test_evaluator = val_evaluator
