# TASSN on STB's videos (train B2-B6, test B1, SK colour images; 2D labels only in training):
# DGGAN's VGG19 CPM 3D estimator per frame at 256 x 256, a temporal convolution over clips of
# 8 consecutive frames, the clip losses (poseforge.models.estimators.tassn). STB gives K and
# 3D labels, so the reprojection uses the perspective camera with the granted root depth and
# bone length, and the table's 3D metrics are root-relative to the palm (root='palm').
_base_ = ['../_base_/datasets/stb.py', './_tassn_cpm-vgg19_seq-256.py']
from poseforge.datasets.clips import clip_dataloaders

train_dataloader, val_dataloader = clip_dataloaders(
    _base_.train_dataloader.dataset, _base_.val_dataloader.dataset, _base_.train_pipeline,
    _base_.test_pipeline)
test_dataloader = val_dataloader
val_evaluator = _base_.hand3d_evaluator + _base_.temporal_evaluator
test_evaluator = val_evaluator
