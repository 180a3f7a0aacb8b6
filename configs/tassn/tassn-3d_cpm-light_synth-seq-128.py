# TASSN with 3D supervision where the clips have it (the generated hands do): the 2D-only
# config plus the depth head's relative-depth loss (loss_weights depth3d=1; the head's own
# weight 0.1 applies inside). A batch may mix 3D-labelled and 2D-only clips: frames without
# depth targets (keypoint_depth_weights 0) only get the 2D and self-supervised losses.
_base_ = ['./tassn_cpm-light_synth-seq-128.py']

model = dict(loss_weights=dict(depth3d=1.0))
