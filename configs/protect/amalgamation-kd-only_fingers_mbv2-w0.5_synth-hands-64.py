# The finger amalgamation without common feature learning (no MMD, no reconstruction): the
# per-head heatmap KD alone, to show what the common-feature terms add at this budget.
_base_ = ['./amalgamation_fingers_mbv2-w0.5_synth-hands-64.py']
model = dict(mmd_weight=0.0, recon_weight=0.0)
