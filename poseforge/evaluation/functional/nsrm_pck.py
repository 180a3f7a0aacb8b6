"""The NSRM paper's own PCK (Chen et al., WACV 2020; ``src/utils.py`` of HowieMa/NSRMhand).

The protocol its OneHand10K / CMU Panoptic numbers (and their gains over CPM) are reported in:

* the prediction is each keypoint map's **arg-max cell** scaled to the crop (cell x stride), with
  no sub-pixel refinement (the estimator's ``pred_keypoints_grid``);
* a keypoint is correct when its distance to the ground truth is **strictly below**
  ``t * s``, where ``s`` is the side of the hand's tight keypoint box; the original crops a
  square of 2.2 x that box and uses ``crop side / 2.2``, which is ``max(w, h)`` of the box of
  the ground-truth keypoints, what is computed here (so any crop padding gives the same ``s``);
* PCK is the fraction of correct keypoints of each image, averaged over images, at
  ``t`` in {0.04, 0.06, 0.08, 0.10, 0.12} (``target_sigma_list``); the mean over those
  thresholds is reported as mPCK.

Where this differs, on purpose: keypoints that are not labelled (``mask`` False) neither count
nor shape the box (the original scores all 21 of every image), and images without a labelled
keypoint or with a zero-size box are left out. The original also truncates each scaled
prediction to a whole crop pixel (``int(x * w / 46)``); here the scaled cell is kept exactly,
so the prediction is not biased by up to one crop pixel towards the crop's top-left corner.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ['NSRM_PCK_THRESHOLDS', 'tight_box_sides', 'nsrm_pck']

#: the thresholds (fractions of the tight box side) the NSRM paper reports.
NSRM_PCK_THRESHOLDS = (0.04, 0.06, 0.08, 0.10, 0.12)


def tight_box_sides(keypoints: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``max(w, h)`` of the box around each instance's labelled keypoints, ``(N,)`` float64;
    0 for an instance without a labelled keypoint.

    Args:
        keypoints: ``(N, K, 2)`` ground truth.
        mask: ``(N, K)``; True (> 0) where a keypoint is labelled.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)[..., :2]
    valid = np.asarray(mask) > 0
    if keypoints.ndim != 3 or valid.shape != keypoints.shape[:2]:
        raise ValueError(f'keypoints must be (N, K, 2) and mask (N, K), got {keypoints.shape} '
                         f'and {valid.shape}')
    low = np.where(valid[..., None], keypoints, np.inf).min(axis=1)
    high = np.where(valid[..., None], keypoints, -np.inf).max(axis=1)
    sides = (high - low).max(axis=1)
    return np.where(valid.any(axis=1), sides, 0.0)


def nsrm_pck(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
             thresholds: Sequence[float] = NSRM_PCK_THRESHOLDS) -> np.ndarray:
    """PCK of the NSRM protocol (module docstring) at each threshold, ``(T,)`` float64.

    Args:
        pred: ``(N, K, 2)`` predictions (the arg-max cells scaled to the image or crop).
        gt: ``(N, K, 2)`` ground truth in the same frame.
        mask: ``(N, K)`` labelled keypoints.
        thresholds: fractions of the tight keypoint box side.

    Returns:
        The mean over the counted images of each image's fraction of correct labelled
        keypoints; 0 at every threshold when no image counts.
    """
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    gt = np.asarray(gt, dtype=np.float64)[..., :2]
    if pred.shape != gt.shape:
        raise ValueError(f'pred {pred.shape} and gt {gt.shape} differ')
    valid = np.asarray(mask) > 0
    sides = tight_box_sides(gt, valid)
    counted = valid.any(axis=1) & (sides > 0)
    distances = np.linalg.norm(pred - gt, axis=-1)  # (N, K)
    limits = np.asarray(thresholds, dtype=np.float64)[:, None, None] * sides[None, :, None]
    correct = (distances[None] < limits) & valid[None]  # (T, N, K)
    per_image = correct.sum(axis=2) / np.maximum(valid.sum(axis=1), 1)[None]  # (T, N)
    if not counted.any():
        return np.zeros(len(limits))
    return per_image[:, counted].mean(axis=1)
