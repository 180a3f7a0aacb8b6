# Heatmap KD, MSE to the teacher's heatmaps (FPD), with FPD's balance: 0.5 x ground truth +
# 0.5 x teacher (alpha = 0.5).
_base_ = ['./_mbv2-w0.5_from_cpm-light_synth-hands.py']
model = dict(gt_weight=0.5,
             distill=[dict(type='HeatmapKDLoss', name='loss_hm', mode='mse', weight=0.5)])
