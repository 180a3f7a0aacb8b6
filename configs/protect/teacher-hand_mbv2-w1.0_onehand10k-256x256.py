# The hand teacher of the body + hand amalgamation: the MobileNetV2 x1.0 OneHand10K model
# (configs/students/mobilenetv2-w1.0_onehand10k-368.py: 96-channel decoder, the CPM's Adam step
# schedule, 45 epochs, PCK@0.2 / AUC / EPE) at the amalgamation's crop
# (_body+hand_crop-256x256.py), decoded to stride 4 (64x64 maps) like the body teacher and the
# student.
_base_ = ['../students/mobilenetv2-w1.0_onehand10k-368.py', './_body+hand_crop-256x256.py']
codec = _base_.crop_codec
model = dict(backbone=dict(out_stride=4), head=dict(decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=_base_.crop_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.crop_test_pipeline))
test_dataloader = val_dataloader
