# COCO 2017 person keypoints (17), top-down; layout in datasets/coco/README.md.
# Training on ground-truth boxes; evaluation, as mmpose's COCO configs, on the person detections
# of COCO_val2017_detections_AP_H_56_person.json with OKS AP from pycocotools. For AP on
# ground-truth boxes instead: --cfg-options val_dataloader.dataset.bbox_file=''
# Leaf configs add `pipeline=...` to each dataloader's dataset (crop and heatmap sizes live with
# the model).
_base_ = ['./_topdown_loaders.py', './_coco_sets.py']

dataset_type = _base_.coco_sets.train.type
data_root = _base_.coco_sets.train.data_root

train_dataloader = dict(batch_size=64, dataset=_base_.coco_sets.train)
val_dataloader = dict(
    dataset=dict(_base_.coco_sets.val,
                 bbox_file='person_detection_results/COCO_val2017_detections_AP_H_56_person.json',
                 test_mode=True))
test_dataloader = val_dataloader

# OKS AP/AR with mmpose's rescoring (box score x mean confident keypoint score) and OKS NMS.
val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'annotations/person_keypoints_val2017.json',
                     score_mode='bbox_keypoint', keypoint_score_thr=0.2, nms_mode='oks_nms',
                     nms_thr=0.9)
test_evaluator = val_evaluator
