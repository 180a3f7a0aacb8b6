"""Per-stage latency of the real-time loop: recorded per frame, summarised as percentiles."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from contextlib import contextmanager

import numpy as np


class StageTimer:
    """Milliseconds per stage per frame (thread-safe: capture and output run in threads).

    ``recent`` keeps the last ``window`` values per stage for the on-screen overlay.
    """

    def __init__(self, window: int = 30) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.recent: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self._lock = threading.Lock()

    def add(self, stage: str, ms: float) -> None:
        with self._lock:
            self.samples[stage].append(ms)
            self.recent[stage].append(ms)

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - start) * 1e3)

    def recent_means(self) -> dict[str, float]:
        with self._lock:
            return {k: float(np.mean(v)) for k, v in self.recent.items() if v}

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {count, mean, p50, p90, p99, max}}`` in ms."""
        with self._lock:
            out = {}
            for name, values in self.samples.items():
                v = np.asarray(values, np.float64)
                out[name] = dict(count=int(v.size), mean=round(float(v.mean()), 3),
                                 p50=round(float(np.percentile(v, 50)), 3),
                                 p90=round(float(np.percentile(v, 90)), 3),
                                 p99=round(float(np.percentile(v, 99)), 3),
                                 max=round(float(v.max()), 3))
            return out
