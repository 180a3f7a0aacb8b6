"""Temporal smoothness of a 3D pose track: acceleration error and jitter.

With ``P_t`` the (K, 3) joints of frame ``t`` (mm) and finite differences over frames,

* acceleration ``a_t = P_{t+1} - 2 P_t + P_{t-1}`` (mm / frame^2, frames ``1 .. T-2``);
* **acceleration error**: per frame the mean over joints of ``|| a_t(pred) - a_t(gt) ||``,
  the measure of the video pose literature (Kanazawa et al. 2019, "Learning 3D Human Dynamics
  from Video"; used by VIBE and the video hand papers); 0 for a prediction that is off by a
  constant or a linearly drifting offset, large for one that shakes around the truth;
* **jitter**: per frame the mean over joints of the jerk ``|| P_{t+2} - 3 P_{t+1} + 3 P_t -
  P_{t-1} ||`` (mm / frame^3), which needs no ground truth (a demo video) and is reported for
  the ground truth as well, because smooth real motion has jerk too.

Tracks with fewer frames than a difference needs contribute nothing to it. Everything is
vectorised over frames and joints.
"""
from __future__ import annotations

import numpy as np

__all__ = ['acceleration', 'jerk', 'acceleration_error', 'jitter', 'consecutive_runs']


def acceleration(track: np.ndarray) -> np.ndarray:
    """``(T, K, 3)`` -> ``(T - 2, K, 3)`` second differences (mm / frame^2)."""
    track = np.asarray(track, dtype=np.float64)
    return track[2:] - 2.0 * track[1:-1] + track[:-2]


def jerk(track: np.ndarray) -> np.ndarray:
    """``(T, K, 3)`` -> ``(T - 3, K, 3)`` third differences (mm / frame^3)."""
    track = np.asarray(track, dtype=np.float64)
    return track[3:] - 3.0 * track[2:-1] + 3.0 * track[1:-2] - track[:-3]


def acceleration_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame acceleration error ``(T - 2,)`` mm / frame^2 (module docstring)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'acceleration_error needs two (T, K, 3) tracks of one shape, got '
                         f'{pred.shape} and {gt.shape}')
    if len(pred) < 3:
        return np.zeros(0)
    return np.linalg.norm(acceleration(pred) - acceleration(gt), axis=-1).mean(-1)


def jitter(track: np.ndarray) -> np.ndarray:
    """Per-frame jitter ``(T - 3,)``: mean joint jerk magnitude, mm / frame^3."""
    track = np.asarray(track, np.float64)
    if len(track) < 4:
        return np.zeros(0)
    return np.linalg.norm(jerk(track), axis=-1).mean(-1)


def consecutive_runs(frame_ids: np.ndarray, step: int = 1) -> list[np.ndarray]:
    """Positions of the sorted ``frame_ids`` split wherever two neighbours are not ``step``
    apart (a dropped frame must not look like a jump)."""
    frame_ids = np.asarray(frame_ids)
    if len(frame_ids) == 0:
        return []
    cuts = np.nonzero(np.diff(frame_ids) != step)[0] + 1
    return np.split(np.arange(len(frame_ids)), cuts)
