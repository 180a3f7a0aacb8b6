# The body teacher of the body + hand amalgamation: the MobileNetV2 x1.0 COCO model
# (configs/students/mobilenetv2-w1.0_coco-256x192.py: 128-channel decoder to stride 4, Adam
# 2.5e-4, 150 epochs, ground-truth boxes) at the amalgamation's crop (_body+hand_crop-256x256.py).
# Besides COCO's OKS AP it reports PCK@0.2 of the box, the number the amalgamated student's
# PCK@0.2/body (TaskPCKAccuracy, same definition and boxes) is compared with.
_base_ = ['../students/mobilenetv2-w1.0_coco-256x192.py', './_body+hand_crop-256x256.py']
codec = _base_.crop_codec
model = dict(head=dict(decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=_base_.crop_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.crop_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [_base_.val_evaluator, dict(type='PCKAccuracy', thr=0.2, norm_item='bbox')]
test_evaluator = val_evaluator
