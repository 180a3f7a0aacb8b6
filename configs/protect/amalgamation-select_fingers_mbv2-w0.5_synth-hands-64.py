# The finger amalgamation with per-keypoint selection of the least ambiguous teacher (lowest
# heatmap entropy) on the keypoints both teachers know (the wrist and the middle finger).
_base_ = ['./amalgamation_fingers_mbv2-w0.5_synth-hands-64.py']
model = dict(select='keypoint')
