# Mixup KD: the heatmap-MSE configuration (0.5 GT + 0.5 teacher), with half of each batch
# replaced by mixes of two images (lam ~ Beta(1, 1)); the teacher's maps on the mixed image are
# their target, and the ground-truth loss is computed on the unmixed half only.
_base_ = ['./kd-hm-mse_mbv2-w0.5_synth-hands-64.py']
model = dict(mixup=dict(type='MixupKD', alpha=1.0, ratio=0.5))
