"""Metric functions on plain arrays (mmpose 1.x definitions, vectorised)."""
from .keypoint_3d import (align_scale_to_gt, auc_3d, bone_lengths, epe_3d, joint_errors_3d,
                          pck_3d_curve, root_relative)
from .nsrm_pck import NSRM_PCK_THRESHOLDS, nsrm_pck, tight_box_sides
from .pckh import MPII_PARTS, head_normalized_errors, mpii_pckh_summary, pckh_counts
from .keypoint_eval import (auc_thresholds, keypoint_auc, keypoint_epe, keypoint_nme,
                            keypoint_pck_accuracy, multi_threshold_pck, normalized_distances,
                            pck_curve, pck_from_distances)

__all__ = [
    'auc_thresholds', 'keypoint_auc', 'keypoint_epe', 'keypoint_nme', 'keypoint_pck_accuracy',
    'multi_threshold_pck', 'normalized_distances', 'pck_curve', 'pck_from_distances',
    'align_scale_to_gt', 'auc_3d', 'bone_lengths', 'epe_3d', 'joint_errors_3d', 'pck_3d_curve',
    'root_relative', 'NSRM_PCK_THRESHOLDS', 'nsrm_pck', 'tight_box_sides', 'MPII_PARTS', 'head_normalized_errors', 'mpii_pckh_summary', 'pckh_counts'
]
