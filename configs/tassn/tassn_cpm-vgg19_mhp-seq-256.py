# TASSN on MHP's videos (train data_3..21, validate data_1..2, four webcams; 2D labels only in
# training): DGGAN's VGG19 CPM 3D estimator per frame at 256 x 256, a temporal convolution over
# clips of 8 consecutive frames of one webcam (sequence_keys: sequence_id, view_id), the clip
# losses (poseforge.models.estimators.tassn). MHP gives K and 3D labels: perspective
# reprojection with the granted root depth and bone length (lens distortion is left out of the
# training losses, it is small inside a crop); 3D metrics root-relative to the palm.
_base_ = ['../_base_/datasets/mhp.py', './_tassn_cpm-vgg19_seq-256.py']
from poseforge.datasets.clips import clip_dataloaders

train_dataloader, val_dataloader = clip_dataloaders(
    _base_.train_dataloader.dataset, _base_.val_dataloader.dataset, _base_.train_pipeline,
    _base_.test_pipeline)
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator
