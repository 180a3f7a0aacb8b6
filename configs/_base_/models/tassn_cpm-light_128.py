# TASSN for CPU runs: the light 3D hand estimator (hand3d_cpm-light_128.py: light CPM trunk,
# heatmap head, relative-depth head at 128 x 128) run per frame, a temporal convolution over the
# frames' depth-head embeddings (512-d; kernel 3, dilations 1, 2) and the clip losses of
# poseforge.models.estimators.tassn (_tassn.py). 2D labels only by default (loss_weights
# depth3d=0).
_base_ = ['./hand3d_cpm-light_128.py', './_tassn.py']
model = _base_.tassn
