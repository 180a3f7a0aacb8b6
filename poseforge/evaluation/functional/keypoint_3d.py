"""3D hand pose accuracy: root-relative end-point error, 3D PCK curve and its AUC, with optional
scale alignment to the ground truth's reference bone.

The protocol is the one of lmb-freiburg/hand3d's ``EvalUtil`` (used for RHD and STB, and by the
3D hand papers poseforge reproduces, e.g. DGGAN), restated in ``docs/methods.md``:

* **Root-relative**: prediction and ground truth are each translated so that their own root
  (joint 0, or hand3d's palm centre, the mean of the wrist and the middle MCP) is at the
  origin; a root joint then has error 0 and, as in hand3d, still counts as one of the joints
  (``exclude_root=True`` leaves it out).
* **EPE** (mm): for every joint, the mean (or median) of its errors over the samples where it
  is valid; then the mean over the joints that have at least one valid sample. With a full mask
  this equals the pooled mean; with a partial mask it weights joints equally, not samples.
* **PCK curve**: for every joint, the fraction of its valid errors **at or below** the
  threshold (hand3d's ``data <= threshold``; mmpose's 2D PCK is strict), averaged over the
  valid joints.
* **AUC**: ``trapezoid(pck, thresholds) / (hi - lo)`` over the thresholds in ``[lo, hi]``
  (20-50 mm for STB/MHP), the same as hand3d's per-joint AUC averaged over joints (the integral
  is linear).
* **Scale alignment** (optional): the root-relative prediction is scaled so that its reference
  bone has the ground truth's length. hand3d's networks predict a pose normalised by the
  middle finger's MCP -> PIP bone and are evaluated after multiplying by the ground-truth
  length of that bone (``keypoint_scale``); scaling a metric prediction by
  ``gt_bone / pred_bone`` is the same operation. The reference is hand21 bone ``(9, 10)``
  (middle MCP -> PIP) by default, or the mean length of several bones.

Everything is vectorised over samples and joints: one sort-free pass (a binary search of each
error among the thresholds and one ``bincount``) gives the whole PCK curve.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

__all__ = [
    'MIDDLE_MCP_PIP', 'PALM_FROM_WRIST', 'default_3d_thresholds', 'root_position',
    'root_relative', 'bone_lengths',
    'align_scale_to_gt', 'joint_errors_3d', 'epe_3d', 'pck_3d_curve', 'auc_3d'
]

#: hand21's middle finger MCP -> PIP: hand3d's reference bone (``keypoint_scale``).
MIDDLE_MCP_PIP: tuple[int, int] = (9, 10)

Bones = Sequence[int] | Sequence[Sequence[int]]


def default_3d_thresholds(hi: float = 50.0, step: float = 1.0) -> np.ndarray:
    """``0, step, ..., hi`` mm: the curve that is plotted, and contains the 20-50 mm AUC range."""
    return np.linspace(0.0, hi, int(round(hi / step)) + 1)


def _as_points(array, name: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f'{name} must be an (N, K, 3) array, got shape {array.shape}')
    return array


#: hand3d's palm centre on a wrist-rooted hand21: the mean of the wrist and the middle MCP
#: (its ``BinaryDbReader(use_wrist_coord=False)`` and its STB protocol).
PALM_FROM_WRIST: tuple[int, int] = (0, 9)

Root = int | Sequence[int]


def root_position(keypoints: np.ndarray, root: Root = 0) -> np.ndarray:
    """``(N, 1, 3)``: joint ``root``, or the mean of the joints ``root`` lists (e.g.
    :data:`PALM_FROM_WRIST` for the palm centre of a wrist-rooted hand)."""
    keypoints = _as_points(keypoints, 'keypoints')
    index = np.atleast_1d(np.asarray(root, dtype=np.int64))
    if index.ndim != 1 or index.size == 0:
        raise ValueError(f'root must be a joint index or a list of them, got {root!r}')
    return keypoints[:, index].mean(axis=1, keepdims=True)


def root_relative(keypoints: np.ndarray, root_index: Root = 0) -> np.ndarray:
    """``(N, K, 3)`` keypoints minus each sample's own root (a joint, or the mean of joints)."""
    keypoints = _as_points(keypoints, 'keypoints')
    return keypoints - root_position(keypoints, root_index)


def _bone_pairs(bones: Bones) -> np.ndarray:
    pairs = np.asarray(bones, dtype=np.int64)
    if pairs.ndim == 1:
        pairs = pairs.reshape(1, -1)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f'bones must be a (parent, child) pair or a list of pairs, got {bones!r}')
    return pairs


def bone_lengths(keypoints: np.ndarray, bones: Bones = MIDDLE_MCP_PIP) -> np.ndarray:
    """``(N,)`` length of the reference bone, or the mean length of several bones."""
    keypoints = _as_points(keypoints, 'keypoints')
    pairs = _bone_pairs(bones)
    vectors = keypoints[:, pairs[:, 1]] - keypoints[:, pairs[:, 0]]  # (N, B, 3)
    return np.linalg.norm(vectors, axis=-1).mean(axis=1)


def align_scale_to_gt(pred_rel: np.ndarray, gt_rel: np.ndarray,
                      bones: Bones = MIDDLE_MCP_PIP) -> np.ndarray:
    """Scale each root-relative prediction so its reference bone(s) match the ground truth's.

    A prediction whose reference bone has length 0 cannot be scaled and is left as it is.
    """
    pred_len = bone_lengths(pred_rel, bones)
    gt_len = bone_lengths(gt_rel, bones)
    ratio = np.divide(gt_len, pred_len, out=np.ones_like(gt_len), where=pred_len > 0)
    return pred_rel * ratio[:, None, None]


def joint_errors_3d(pred: np.ndarray, gt: np.ndarray, root_index: Root = 0,
                    scale_bones: Bones | None = None) -> np.ndarray:
    """``(N, K)`` root-relative Euclidean errors (mm), optionally after scale alignment.

    Args:
        pred, gt: ``(N, K, 3)`` keypoints in mm, camera frame or already root-relative.
        root_index: the joint both are centred on (or joints, whose mean is the root).
        scale_bones: ``None`` for no alignment, else the reference bone pair (or pairs) that
            :func:`align_scale_to_gt` matches.
    """
    pred, gt = _as_points(pred, 'pred'), _as_points(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'pred {pred.shape} and gt {gt.shape} differ in shape')
    pred_rel, gt_rel = root_relative(pred, root_index), root_relative(gt, root_index)
    if scale_bones is not None:
        pred_rel = align_scale_to_gt(pred_rel, gt_rel, scale_bones)
    return np.linalg.norm(pred_rel - gt_rel, axis=-1)


def _valid(errors: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    valid = np.isfinite(errors)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != errors.shape:
            raise ValueError(f'mask must be {errors.shape}, got {mask.shape}')
        valid &= mask > 0
    return valid


def epe_3d(errors: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Mean and median end-point error: per joint over its valid samples, then averaged over
    the joints with at least one valid sample (hand3d's "average mean / median EPE").

    Returns ``(nan, nan)`` when nothing is valid.
    """
    errors = np.asarray(errors, dtype=np.float64)
    valid = _valid(errors, mask)
    counts = valid.sum(axis=0)
    joints = counts > 0
    if not joints.any():
        return float('nan'), float('nan')
    masked = np.where(valid, errors, np.nan)
    means = np.where(valid, errors, 0.0).sum(axis=0)[joints] / counts[joints]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN columns are dropped below
        medians = np.nanmedian(masked, axis=0)[joints]
    return float(means.mean()), float(medians.mean())


def pck_3d_curve(errors: np.ndarray, thresholds: Sequence[float],
                 mask: np.ndarray | None = None) -> np.ndarray:
    """Average 3D PCK at every threshold: ``(T,)``, in ``[0, 1]`` (nan if nothing is valid).

    A joint is correct when its error is ``<= threshold`` (hand3d). Per joint, the fraction of
    its valid samples that are correct; then the mean over joints with a valid sample.

    Args:
        errors: ``(N, K)`` errors in mm (:func:`joint_errors_3d`).
        thresholds: ``(T,)`` strictly increasing, mm.
        mask: ``(N, K)``, entries ``> 0`` are evaluated (default: all finite errors).
    """
    errors = np.asarray(errors, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0 or np.any(np.diff(thresholds) <= 0):
        raise ValueError('thresholds must be a non-empty, strictly increasing sequence')
    valid = _valid(errors, mask)
    num_thr, num_joints = thresholds.size, errors.shape[1]
    # first threshold each error is <= to (T when above all); invalid entries are not counted
    first = np.searchsorted(thresholds, np.where(valid, errors, np.inf), side='left')
    bins = np.arange(num_joints)[None, :] * (num_thr + 1) + first
    hist = np.bincount(bins[valid], minlength=num_joints * (num_thr + 1))
    correct = hist.reshape(num_joints, num_thr + 1)[:, :num_thr].cumsum(axis=1)  # (K, T)
    counts = valid.sum(axis=0)
    joints = counts > 0
    if not joints.any():
        return np.full(num_thr, np.nan)
    return (correct[joints] / counts[joints, None]).mean(axis=0)


def auc_3d(thresholds: Sequence[float], pck: Sequence[float],
           auc_range: tuple[float, float] = (20.0, 50.0)) -> float:
    """``trapezoid(pck, thresholds) / (hi - lo)`` over the thresholds in ``[lo, hi]``.

    Both ends must be among the thresholds (otherwise the area would silently cover a smaller
    range); e.g. thresholds 20, 21, ..., 50 give the usual AUC(20-50 mm).
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    pck = np.asarray(pck, dtype=np.float64).reshape(-1)
    lo, hi = (float(v) for v in auc_range)
    if not hi > lo:
        raise ValueError(f'auc_range must be (lo, hi) with hi > lo, got {auc_range}')
    if pck.shape != thresholds.shape:
        raise ValueError(f'pck {pck.shape} and thresholds {thresholds.shape} differ in shape')
    if not (np.isclose(thresholds, lo).any() and np.isclose(thresholds, hi).any()):
        raise ValueError(f'the thresholds must include both ends of auc_range {auc_range}')
    inside = (thresholds >= lo - 1e-9) & (thresholds <= hi + 1e-9)
    return float(np.trapezoid(pck[inside], thresholds[inside]) / (hi - lo))
