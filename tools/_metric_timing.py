"""PCK + AUC + EPE timing shared by both sides of the metrics benchmark (numpy only, so that
``mmpose_reference.py`` can use it in an environment without poseforge)."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def synthetic_keypoints(num: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(pred, gt, mask, norm)`` for ``num`` instances x 21 keypoints: 8 px Gaussian errors,
    10 % of keypoints unlabelled, a 100 px normaliser. The same numbers for a given seed."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 256, (num, 21, 2)).astype(np.float32)
    pred = gt + rng.normal(0, 8, gt.shape).astype(np.float32)
    mask = rng.random((num, 21)) > 0.1
    norm = np.full((num, 2), 100.0, np.float32)
    return pred, gt, mask, norm


def time_pck_auc_epe(pck_accuracy: Callable, auc: Callable, epe: Callable, num: int,
                     repeats: int) -> dict:
    """Best-of-``repeats`` seconds of PCK@0.2 + AUC (30 px) + EPE, with the values, for
    functions with mmpose's signatures (``keypoint_pck_accuracy``, ``keypoint_auc``,
    ``keypoint_epe``)."""
    pred, gt, mask, norm = synthetic_keypoints(num)
    best, values = float('inf'), {}
    for _ in range(repeats):
        start = time.perf_counter()
        _, pck_value, _ = pck_accuracy(pred, gt, mask, 0.2, norm)
        auc_value = auc(pred, gt, mask, 30)
        epe_value = epe(pred, gt, mask)
        best = min(best, time.perf_counter() - start)
        values = dict(pck=float(pck_value), auc=float(auc_value), epe=float(epe_value))
    return dict(instances=num, keypoints=21, seconds=round(best, 4),
                samples_per_s=round(num / best, 1), values=values)
