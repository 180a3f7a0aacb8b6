"""Metric functions on plain arrays (mmpose 1.x definitions, vectorised)."""
from .keypoint_eval import (auc_thresholds, keypoint_auc, keypoint_epe, keypoint_nme,
                            keypoint_pck_accuracy, multi_threshold_pck, normalized_distances,
                            pck_curve, pck_from_distances)

__all__ = [
    'auc_thresholds', 'keypoint_auc', 'keypoint_epe', 'keypoint_nme', 'keypoint_pck_accuracy',
    'multi_threshold_pck', 'normalized_distances', 'pck_curve', 'pck_from_distances'
]
