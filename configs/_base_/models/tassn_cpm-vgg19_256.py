# TASSN on DGGAN's 3D estimator (hand3d_cpm-vgg19_256.py: VGG19 CPM, 256 x 256 crops): a
# temporal convolution over the frames' depth-head embeddings and the clip losses of
# poseforge.models.estimators.tassn (_tassn.py); 2D labels only by default (loss_weights
# depth3d=0).
_base_ = ['./hand3d_cpm-vgg19_256.py', './_tassn.py']
model = _base_.tassn
