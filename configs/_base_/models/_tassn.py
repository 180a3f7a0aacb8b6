# The TASSN layer over a per-frame 3D hand estimator (poseforge.models.estimators.tassn), as both
# TASSN model bases use it: a temporal convolution over the frames' depth-head embeddings
# (kernel 3, dilations 1, 2), the clip losses, 2D labels only by default (loss_weights
# depth3d=0). A model base takes its per-frame estimator and this file as bases and merges the
# two with `model = _base_.tassn` (mmengine refuses `model` from two bases).
tassn = dict(
    type='TASSN',
    data_preprocessor=dict(type='ClipDataPreprocessor'),
    temporal=dict(type='TemporalConv', hidden=256, kernel=3, dilations=(1, 2)),
    loss_weights=dict(kpt=1.0, reproj=1.0, consistency=1.0, bone=1.0, depth3d=0.0),
    softargmax_beta=50.0,
    projection='auto',
    train_granted='gt',
)
