"""Keypoint accuracy functions: PCK, AUC, EPE and NME.

The definitions (and the numbers) follow mmpose 1.x
(``mmpose/evaluation/functional/keypoint_eval.py``) so that results reported by poseforge can be
compared with published mmpose results. mmpose itself is not imported; its behaviour is
reproduced, including the corner cases that change numbers:

* **Normalised distance** ``||(pred - gt) / norm||`` per instance and keypoint, rounded to
  float32 (mmpose stores distances in a float32 array).
* **Invalid entries** get the distance ``-1`` and are ignored: keypoints whose ``mask`` is
  False, and *every* keypoint of an instance whose normaliser is exactly 0 in any dimension.
  A negative normaliser does **not** invalidate the instance: mmpose replaces it by ``1e6``
  in that dimension (which makes that component of the distance almost 0). We reproduce that
  too, but without mmpose's side effect of overwriting the caller's ``norm_factor`` array.
* **Strict threshold**: a keypoint is correct when ``distance < thr``. The comparison happens
  in numpy's promoted type of a float32 array and ``thr``: for a Python float threshold (what
  configs give, and what mmpose's AUC uses) that is float32, so ``thr = 0.35`` is compared as
  ``float32(0.35)``, which is *below* 0.35; a distance of exactly ``float32(0.35)`` is then
  *not* correct.
* **Per-joint accuracy** is the fraction of valid distances below the threshold; a joint with
  no valid distance gets ``-1`` and is left out of the average; ``cnt`` counts the joints that
  have at least one valid distance; the average is 0 when ``cnt == 0``.
* **AUC** is the mean of the average PCK over the thresholds ``i / num_thrs``,
  ``i = 0 .. num_thrs - 1`` (so the last threshold is ``1 - 1/num_thrs``, not 1), with the
  distances normalised by one scalar ``norm_factor`` in pixels (30 px for hands in mmpose).
* **EPE / NME** pool all valid distances (float32 sum) and divide by ``max(1, count)``, so they
  are 0 (not NaN) when nothing is valid.

Speed: mmpose's AUC recomputes the distances and runs one full pass per threshold (20 for the
default). Here the distances are computed once per call, each joint's distances are sorted
once, and a binary search of every threshold gives the number of distances strictly below it
for *all* thresholds at once. The counts are integers, so the accuracies equal the
per-threshold loop exactly; the averages and the AUC sum are then formed in the same order as
mmpose so that the floating-point results are identical too (PCK + AUC + EPE over
100,000 x 21 keypoints take well under 0.1 s on one core, mmpose about 2 s).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

__all__ = [
    'normalized_distances', 'pck_from_distances', 'keypoint_pck_accuracy',
    'multi_threshold_pck', 'pck_curve', 'keypoint_auc', 'auc_thresholds', 'keypoint_epe',
    'keypoint_nme'
]

#: mmpose's stand-in for a non-positive normaliser (``norm_factor[norm_factor <= 0] = 1e6``).
_NEGATIVE_NORM_REPLACEMENT = 1e6


# --------------------------------------------------------------------------- distances
def _normalized_norm(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)``, bit for bit, but faster.

    ``np.linalg.norm`` squares and reduces the last axis with ``np.add.reduce``; for fewer
    than 8 components numpy adds them left to right, so summing the squared components one
    dimension at a time gives identical values. Working per dimension on ``(N, K)`` slices
    also avoids numpy's slow inner loops over a length-2 axis. The subtraction and the
    division use the same operand dtypes as mmpose, hence the same promotion and rounding.
    """
    num_dims = pred.shape[-1]
    if num_dims == 0 or num_dims >= 8:  # numpy would use pairwise summation: defer to it
        return np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)
    total = None
    for dim in range(num_dims):
        component = (pred[..., dim] - gt[..., dim]) / norm[:, dim, None]
        square = component * component
        total = square if total is None else total + square
    return np.sqrt(total)


def _check_shapes(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> None:
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(f'pred and gt must both be (N, K, D) arrays, got {pred.shape} and '
                         f'{gt.shape}')
    if mask.shape != pred.shape[:2]:
        raise ValueError(f'mask must be (N, K) = {pred.shape[:2]}, got {mask.shape}')


def normalized_distances(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                         norm_factor: np.ndarray) -> np.ndarray:
    """Per-keypoint normalised distances, ``-1`` where they do not count.

    Equal to mmpose's ``_calc_distances(...)`` transposed (mmpose returns ``(K, N)``), without
    its side effect on ``norm_factor``.

    Args:
        pred: ``(N, K, D)`` predicted keypoints.
        gt: ``(N, K, D)`` ground-truth keypoints.
        mask: ``(N, K)``; entries ``> 0`` (True) are evaluated.
        norm_factor: ``(N, D)`` per-instance normaliser. An instance with a 0 in any
            dimension is excluded entirely; values ``< 0`` are replaced by ``1e6`` (mmpose).

    Returns:
        ``(N, K)`` float32 distances, ``-1`` for the entries that are ignored.
    """
    pred, gt, mask = np.asarray(pred), np.asarray(gt), np.asarray(mask)
    _check_shapes(pred, gt, mask)
    norm = np.array(norm_factor, copy=True)  # mmpose modifies its argument; we do not
    if norm.shape != (pred.shape[0], pred.shape[2]):
        raise ValueError(f'norm_factor must be (N, D) = {(pred.shape[0], pred.shape[2])}, got '
                         f'{norm.shape}')
    valid = mask > 0
    instance_ok = ~(norm == 0).any(axis=1)
    norm[norm <= 0] = _NEGATIVE_NORM_REPLACEMENT
    with np.errstate(invalid='ignore', over='ignore', divide='ignore'):
        distances = _normalized_norm(pred, gt, norm).astype(np.float32)
    return np.where(valid & instance_ok[:, None], distances, np.float32(-1))


# --------------------------------------------------------------------------- thresholds
def _comparison_value(thr: float | np.floating, distance_dtype: np.dtype = np.float32
                      ) -> np.float64:
    """``thr`` as numpy compares it against a ``distance_dtype`` array, widened to float64.

    numpy (2.x, NEP 50; and 1.x value-based casting for Python scalars) compares a float32
    array with a Python float in float32, so mmpose's ``distances < thr`` effectively uses
    ``float32(thr)``; a float64 numpy scalar or 0-d array keeps float64 on numpy 2. Widening
    the chosen value to float64 changes nothing (float32 is a subset of float64), so every
    threshold can then be compared exactly in float64.
    """
    dtype = np.result_type(distance_dtype, thr)
    with np.errstate(over='ignore'):
        return np.float64(np.asarray(thr).astype(dtype))


def _count_below(distances: np.ndarray, valid: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray:
    """``counts[t, k] = #{n : valid[n, k] and distances[n, k] < thresholds[t]}``.

    ``thresholds`` are float64 comparison values (see :func:`_comparison_value`). For one or
    two thresholds a direct comparison is cheapest. For more, every joint's distances are
    sorted once (invalid ones replaced by ``+inf``, which is below no threshold) and a
    left-sided binary search of each threshold gives the number of distances strictly below
    it; NaN distances sort last and are never counted (``NaN < thr`` is False, as in mmpose),
    and a NaN threshold counts nothing. The comparison is exact: when every threshold is a
    float32 value the float32 distances are searched as they are, otherwise they are widened
    to float64 (exactly).
    """
    if len(thresholds) <= 2:
        return np.stack([((distances < value) & valid).sum(axis=0) for value in thresholds]
                        ).astype(np.int64, copy=False).reshape(len(thresholds), -1)
    by_joint = np.ascontiguousarray(distances.T)
    by_joint[~valid.T] = np.inf
    by_joint.sort(axis=1)
    with np.errstate(over='ignore'):
        as_float32 = thresholds.astype(np.float32)
    if (by_joint.dtype == np.float32
            and np.array_equal(as_float32.astype(np.float64), thresholds, equal_nan=True)):
        queries = as_float32
    else:
        by_joint = by_joint.astype(np.float64, copy=False)
        queries = thresholds
    counts = np.stack([np.searchsorted(row, queries, side='left') for row in by_joint], axis=1)
    counts = counts.astype(np.int64, copy=False)
    counts[np.isnan(thresholds)] = 0
    return counts


def _average_valid(acc_row: np.ndarray, joint_valid: np.ndarray) -> float:
    """mmpose's ``valid_acc.mean() if cnt > 0 else 0`` over one threshold's accuracies."""
    valid_acc = acc_row[joint_valid]
    return float(valid_acc.mean()) if valid_acc.size > 0 else 0.0


def _pck_from_comparison_values(distances: np.ndarray, thresholds: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray, int]:
    valid = distances != -1  # mmpose's validity test, kept literally
    num_valid = valid.sum(axis=0)
    joint_valid = num_valid > 0
    counts = _count_below(distances, valid, thresholds)
    acc = np.full(counts.shape, -1.0)
    # int64 / int64 -> float64, the same division mmpose performs per joint
    acc[:, joint_valid] = counts[:, joint_valid] / num_valid[joint_valid]
    avg = np.array([_average_valid(row, joint_valid) for row in acc], dtype=np.float64)
    return acc, avg, int(joint_valid.sum())


def pck_from_distances(distances: np.ndarray, thrs: Iterable[float]
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """PCK at several thresholds from precomputed distances (``-1`` = ignored).

    Args:
        distances: ``(N, K)`` as returned by :func:`normalized_distances`.
        thrs: thresholds; each is compared as a Python float would be (float32, see module
            docstring), exactly like one call of mmpose's ``keypoint_pck_accuracy`` per value.

    Returns:
        ``acc (T, K)`` per-joint accuracy (``-1`` for joints without a valid distance),
        ``avg (T,)`` the average over valid joints (0 if none), ``cnt`` the number of valid
        joints.
    """
    distances = np.asarray(distances)
    values = np.array([_comparison_value(float(t), distances.dtype) for t in thrs],
                      dtype=np.float64)
    return _pck_from_comparison_values(distances, values)


# --------------------------------------------------------------------------- PCK
def keypoint_pck_accuracy(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, thr: float,
                          norm_factor: np.ndarray) -> tuple[np.ndarray, float, int]:
    """PCK of every keypoint and their average (mmpose ``keypoint_pck_accuracy``).

    Args:
        pred: ``(N, K, D)`` predicted keypoints.
        gt: ``(N, K, D)`` ground-truth keypoints.
        mask: ``(N, K)`` bool, True where the keypoint is evaluated.
        thr: threshold on the normalised distance (strict ``<``).
        norm_factor: ``(N, D)`` normaliser, e.g. the box size in both dimensions.

    Returns:
        ``acc (K,)`` float64 per-keypoint accuracy (``-1`` where no instance is valid),
        ``avg`` the mean over valid keypoints (0 when there is none), ``cnt`` their number.
    """
    distances = normalized_distances(pred, gt, mask, norm_factor)
    values = np.array([_comparison_value(thr)], dtype=np.float64)
    acc, avg, cnt = _pck_from_comparison_values(distances, values)
    return acc[0], float(avg[0]), cnt


def multi_threshold_pck(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                        thrs: Sequence[float], norm_factor: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`keypoint_pck_accuracy` for many thresholds with one distance computation.

    Row ``t`` of the result equals ``keypoint_pck_accuracy(pred, gt, mask, float(thrs[t]),
    norm_factor)``.

    Returns:
        ``acc (T, K)``, ``avg (T,)``, ``cnt``.
    """
    return pck_from_distances(normalized_distances(pred, gt, mask, norm_factor), thrs)


def pck_curve(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: np.ndarray,
              thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Average PCK as a function of the threshold, for plotting and comparing models.

    Args:
        pred, gt, mask, norm_factor: as in :func:`keypoint_pck_accuracy`.
        thresholds: ``(T,)`` thresholds (strict ``<``, compared as Python floats).

    Returns:
        ``thresholds (T,)`` float64 and ``pck (T,)`` float64, the average PCK at each.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    _, avg, _ = multi_threshold_pck(pred, gt, mask, thresholds.tolist(), norm_factor)
    return thresholds, avg


# --------------------------------------------------------------------------- AUC
def auc_thresholds(num_thrs: int) -> list[float]:
    """mmpose's AUC thresholds ``1.0 * i / num_thrs`` for ``i = 0 .. num_thrs - 1``."""
    return [1.0 * i / num_thrs for i in range(num_thrs)]


def keypoint_auc(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: float,
                 num_thrs: int = 20) -> float:
    """Area under the PCK curve (mmpose ``keypoint_auc``).

    Distances are divided by the scalar ``norm_factor`` (pixels) in every dimension; the AUC is
    ``sum_i avg_pck(i / num_thrs) / num_thrs``, accumulated in the same order as mmpose.
    mmpose builds a 2-column normaliser, i.e. supports D = 2 only; here D follows ``pred``.

    Args:
        pred, gt: ``(N, K, D)`` keypoints; mask: ``(N, K)`` bool.
        norm_factor: scalar normaliser in pixels (mmpose uses 30 for hands).
        num_thrs: number of thresholds.

    Returns:
        the AUC, in ``[0, 1)``.
    """
    pred = np.asarray(pred)
    norm = np.tile(np.array([[norm_factor] * pred.shape[-1]]), (pred.shape[0], 1))
    _, avg, _ = multi_threshold_pck(pred, gt, mask, auc_thresholds(num_thrs), norm)
    auc = 0.0
    for value in avg:  # mmpose: ``auc += 1.0 / num_thrs * avg_acc`` in threshold order
        auc += 1.0 / num_thrs * value
    return float(auc)


# --------------------------------------------------------------------------- EPE / NME
def _pooled_mean(distances: np.ndarray) -> float:
    """mmpose's ``valid.sum() / max(1, len(valid))`` over the valid distances.

    mmpose gathers them from the ``(K, N)`` array, i.e. joint by joint, and sums in float32;
    the same order is used here so the pairwise float32 sum is identical.
    """
    by_joint = np.ascontiguousarray(distances.T)
    pooled = by_joint[by_joint != -1]
    return float(pooled.sum() / max(1, len(pooled)))


def keypoint_nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                 normalize_factor: np.ndarray) -> float:
    """Normalised mean error (mmpose ``keypoint_nme``): the mean of all valid normalised
    distances, 0 when none is valid.

    Args:
        pred, gt: ``(N, K, D)``; mask: ``(N, K)``; normalize_factor: ``(N, D)``.
    """
    return _pooled_mean(normalized_distances(pred, gt, mask, normalize_factor))


def keypoint_epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """End-point error (mmpose ``keypoint_epe``): mean Euclidean distance in input units
    (pixels) over the valid keypoints, pooled over all instances; 0 when none is valid.

    Args:
        pred, gt: ``(N, K, D)``; mask: ``(N, K)``.
    """
    pred = np.asarray(pred)
    ones = np.ones((pred.shape[0], pred.shape[-1]), dtype=np.float32)  # as mmpose
    return _pooled_mean(normalized_distances(pred, gt, mask, ones))
