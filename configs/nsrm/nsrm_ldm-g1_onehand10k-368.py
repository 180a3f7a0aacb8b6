# NSRM, LDM G1, on OneHand10K (annotated hand boxes, padding 1.25).
# Limb-loss weights: as the original configs/LDM_G1.json.
_base_ = ['./_nsrm_vgg19_368.py', '../_base_/datasets/onehand10k.py']

model = dict(backbone=dict(limb_channels=1),
             head=dict(mask_type='ldm', grouping='G1', limb_weight=1.0))
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
