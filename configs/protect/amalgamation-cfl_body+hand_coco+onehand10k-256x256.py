# The body + hand amalgamation with common feature learning on (alignment convs into a shared
# space, multi-kernel MMD, reconstruction of each teacher's decoder feature, KamalEngine's
# weights 1): on the finger-split hands these terms cost the student 15.7 PCK points at that
# budget (README, "Knowledge amalgamation"); here for users who want to try them at theirs.
_base_ = ['./amalgamation_body+hand_coco+onehand10k-256x256.py']
model = dict(mmd_weight=1.0, recon_weight=1.0)
