# DGGAN on MHP (train data_3..21, validate data_1..2) at the paper's sizes. MHP has no depth:
# stages 2 and 3 (regulariser, GAN) train on RHD's depth (the _mhp stage configs point their
# data there), and the joint stage on MHP learns from the generated depth alone (no real
# sample: the discriminator is not stepped, the generator trains against the RHD-trained one),
# which is the point of a depth GAN. 3D protocol: palm-centre root (names .../palm/...); the
# webcams' distortion is removed before K^-1.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/mhp.py',
          '../_base_/datasets/_hand_3d_metrics.py', '../_base_/datasets/_dggan_augmentation.py',
          '../_base_/models/dggan_cpm-vgg19_256.py']
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

train_pipeline, test_pipeline = topdown_3d_pipelines(
    _base_.codec, _base_.depth_codec, padding=1.25, **_base_.dggan_augmentation)
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator
test_evaluator = val_evaluator
