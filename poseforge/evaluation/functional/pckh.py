"""MPII PCKh, as the benchmark's evaluation (``evaluatePCKh.m``) computes it.

The protocol (HRNet's Python port of the official code, also mmpose 0.x's
``TopDownMpiiDataset.evaluate``):

* a joint counts when it is labelled (``1 - jnt_missing``; here ``keypoints_visible``);
* its error is the pixel distance divided by the person's head size (0.6 x the head-box
  diagonal, computed by the dataset loader);
* it is correct when that ratio is **at most** the threshold (``<=``; mmpose 1.x's generic
  ``keypoint_pck_accuracy`` uses ``<``, which differs only for exact ties);
* per joint, PCKh = correct / labelled; a body part (Shoulder, Elbow, ...) is the plain mean of
  its left and right joint;
* the overall mean leaves out pelvis and thorax and weights every other joint by how often it is
  labelled, i.e. it pools all their correct joints over all their labelled ones.

Both ``PCKh@0.5`` and ``PCKh@0.1`` use exactly their threshold. (HRNet's port reads ``@0.1``
from ``pckAll[11]``, which is 0.11; mmpose reads ``pckAll[10]``, 0.1.) Values are fractions in
[0, 1]; papers print them x100.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ['MPII_PARTS', 'MPII_EXCLUDED', 'head_normalized_errors', 'pckh_counts',
           'mpii_pckh_summary']

#: Body parts of the official table, by ``mpii16`` keypoint names (left, right).
MPII_PARTS: dict[str, tuple[str, ...]] = {
    'Head': ('head_top',),
    'Shoulder': ('left_shoulder', 'right_shoulder'),
    'Elbow': ('left_elbow', 'right_elbow'),
    'Wrist': ('left_wrist', 'right_wrist'),
    'Hip': ('left_hip', 'right_hip'),
    'Knee': ('left_knee', 'right_knee'),
    'Ankle': ('left_ankle', 'right_ankle'),
}
#: Joints the official mean leaves out.
MPII_EXCLUDED: tuple[str, ...] = ('pelvis', 'thorax')


def head_normalized_errors(pred: np.ndarray, gt: np.ndarray, head_size: np.ndarray
                           ) -> np.ndarray:
    """``(N, K)`` pixel errors divided by each instance's head size (float64).

    Args:
        pred, gt: ``(N, K, 2)`` keypoints in the same pixel frame.
        head_size: ``(N,)`` positive head sizes.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    head_size = np.asarray(head_size, dtype=np.float64).reshape(-1)
    if pred.shape != gt.shape or pred.ndim != 3 or len(head_size) != len(pred):
        raise ValueError(f'pred {pred.shape} and gt {gt.shape} must be (N, K, 2) and '
                         f'head_size {head_size.shape} (N,)')
    return np.linalg.norm(pred - gt, axis=-1) / head_size[:, None]


def pckh_counts(errors: np.ndarray, visible: np.ndarray, thrs: Sequence[float]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Correct and labelled joints: ``correct (T, K)`` int, ``labelled (K,)`` int.

    ``correct[t, k]`` counts the instances whose joint ``k`` is labelled and has a normalised
    error ``<= thrs[t]``.
    """
    visible = np.asarray(visible).astype(bool)
    thrs = np.asarray(thrs, dtype=np.float64).reshape(-1, 1, 1)
    correct = ((errors[None] <= thrs) & visible[None]).sum(axis=1)
    return correct.astype(np.int64), visible.sum(axis=0).astype(np.int64)


def mpii_pckh_summary(correct: np.ndarray, labelled: np.ndarray,
                      keypoint_names: Sequence[str]) -> dict[str, np.ndarray]:
    """The official table for every threshold: ``{'Head': (T,), ..., 'Ankle': (T,),
    'Mean': (T,)}``.

    A joint never labelled has no PCKh; a part averages the sides that have one and is ``-1``
    (poseforge's and mmpose's "no value" marker) when neither has.
    """
    names = list(keypoint_names)
    missing = [n for part in MPII_PARTS.values() for n in part + MPII_EXCLUDED
               if n not in names]
    if missing:
        raise ValueError(f'the MPII table needs the mpii16 keypoints; {missing} are not in '
                         f'{names}')
    correct = np.asarray(correct, dtype=np.float64)
    labelled = np.asarray(labelled, dtype=np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        per_joint = np.where(labelled > 0, correct / labelled, np.nan)  # (T, K)
    table: dict[str, np.ndarray] = {}
    for part, joints in MPII_PARTS.items():
        values = per_joint[:, [names.index(j) for j in joints]]
        has = ~np.isnan(values)
        total = np.where(has, values, 0).sum(axis=1)
        count = has.sum(axis=1)
        table[part] = np.where(count > 0, total / np.maximum(count, 1), -1.0)
    kept = np.array([n not in MPII_EXCLUDED for n in names])
    pooled = labelled[kept].sum()
    table['Mean'] = (correct[:, kept].sum(axis=1) / pooled if pooled > 0
                     else np.zeros(len(correct)))
    return table
