# The one crop of the body + hand amalgamation, shared by the COCO body teacher, the OneHand10K
# hand teacher and the 38-keypoint student: every teacher sees the student's crop as it is
# (a teacher trained on another aspect ratio would see the crop squashed by the resize).
# 256x256 -> 64x64 heatmaps (stride 4, sigma 2): a person's box, padded x1.25 and widened to
# the crop's aspect, fills the crop's height as in the usual 256x192 COCO crop (padded person
# boxes are mostly taller than 4:3, so their vertical resolution is the same; the extra width
# is background), and a hand's nearly square box gets the 256x256 of mmpose's OneHand10K
# configs instead of 192 px across. The price: 4/3 of the 256x192 FLOPs on body crops.
# Augmentation: the top-down defaults (flip, shift 0.16 / p 0.3, scale 0.5-1.5, rotation up to
# 80 deg / p 0.6, photometric), the same for both teachers and the student.
# (`_base_ = []` keeps this an ordinary, not a lazy-import, config: leaves inherit it.)
_base_ = []
from poseforge.datasets.transforms.presets import topdown_pipelines

crop_codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2.0)
crop_train_pipeline, crop_test_pipeline = topdown_pipelines(crop_codec, padding=1.25)
