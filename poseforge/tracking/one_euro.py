"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): jitter removal without lag.

A first-order low-pass filter whose cutoff frequency rises with the signal's speed:
``cutoff = min_cutoff + beta * |dx/dt|`` (the derivative itself low-passed at ``d_cutoff``).
A still hand is smoothed hard (low cutoff: jitter goes), a moving hand lightly (high cutoff:
no lag), which a fixed moving average cannot do. Here it filters whole arrays at once (all
keypoints of a hand, both coordinates), each element with its own speed, and takes real
timestamps, so a dropped frame does not change the filter's time constants.
"""
from __future__ import annotations

import math

import numpy as np


def smoothing_factor(dt: float | np.ndarray, cutoff: float | np.ndarray) -> np.ndarray:
    """Exponential smoothing factor ``alpha`` of a first-order low-pass at ``cutoff`` Hz."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filtering of an array signal (any shape), element-wise.

    Args:
        min_cutoff: cutoff (Hz) when still; lower = smoother, more lag at low speeds.
        beta: cutoff increase per unit of speed (signal units / s); higher = less lag.
        d_cutoff: cutoff (Hz) of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.1, d_cutoff: float = 1.0
                 ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError('OneEuroFilter: min_cutoff and d_cutoff must be positive, '
                             f'beta >= 0 (got {min_cutoff}, {d_cutoff}, {beta})')
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), \
            float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds); the first sample passes through."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        dx = (x - self._x) / dt
        a_d = smoothing_factor(dt, self.d_cutoff)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = smoothing_factor(dt, cutoff)
        self._x = a * x + (1 - a) * self._x
        self._t = float(t)
        return self._x.copy()
