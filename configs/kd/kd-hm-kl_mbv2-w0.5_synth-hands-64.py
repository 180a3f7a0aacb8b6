# Heatmap KD, per-joint spatial-softmax KL at tau = 1 (OKDHP's setting for heatmaps; tau^2 = 1),
# keypoint-weighted, weight 1, ground truth weight 1.
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(distill=[dict(type='HeatmapKDLoss', name='loss_hm_kl', mode='kl', tau=1.0,
                           weight=1.0)])
