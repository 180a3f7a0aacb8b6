# COCO person keypoints for the hourglass and OKDHP configs, as the OKDHP authors train it:
# 256x192 crops -> 64x48 heatmaps, sigma 2; rotation 40 deg (clipped normal, probability 0.6),
# scale +-0.3, flip; no photometric augmentation; batch 16. Evaluated on the ground-truth boxes
# (the papers' COCO numbers), not on person detections.
_base_ = ['../_base_/datasets/coco.py']
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, photometric=False,
                                                  shift_prob=0.0, rotate_factor=40.0,
                                                  scale_factor=0.3)
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(bbox_file='', pipeline=test_pipeline))
test_dataloader = val_dataloader
