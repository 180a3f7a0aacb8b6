# TASSN for CPU runs: the light 3D hand estimator (hand3d_cpm-light_128.py: light CPM trunk,
# heatmap head, relative-depth head at 128 x 128) run per frame, a temporal convolution over the
# frames' depth-head embeddings (512-d; kernel 3, dilations 1, 2) and the clip losses of
# poseforge.models.estimators.tassn. 2D labels only by default (loss_weights depth3d=0).
_base_ = ['./hand3d_cpm-light_128.py']

model = dict(
    type='TASSN',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    temporal=dict(type='TemporalConv', hidden=256, kernel=3, dilations=(1, 2)),
    loss_weights=dict(kpt=1.0, reproj=1.0, consistency=1.0, bone=1.0, depth3d=0.0),
    softargmax_beta=50.0,
    projection='auto',
    train_granted='gt',
)
