"""``DumpPredictions``: keep every prediction, written as JSON at the end of evaluation."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from poseforge.utils.fileio import atomic_write_bytes
from poseforge.registry import METRICS

_KEYS = ('img_path', 'img_id', 'id', 'bbox', 'bbox_score', 'pred_keypoints',
         'pred_keypoints_grid', 'pred_scores', 'keypoints', 'keypoints_visible')


def _plain(value: Any) -> Any:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.round(3).tolist() if value.dtype.kind == 'f' else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@METRICS.register_module()
class DumpPredictions(BaseMetric):
    """Collects predictions (and the ground truth they were scored against) per instance and
    writes them to ``out_file`` as a JSON list; reports no metric.

    Each record: ``img_path``, ``img_id``, ``id``, ``bbox`` (xyxy), ``bbox_score``,
    ``pred_keypoints`` (K x 2, image px), ``pred_keypoints_grid`` (the arg-max cells, when the
    model emits them), ``pred_scores``, ``keypoints``, ``keypoints_visible``.
    """

    default_prefix = 'dump'

    def __init__(self, out_file: str, collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        self.out_file = out_file

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append({k: _plain(sample[k]) for k in _KEYS if k in sample})

    def compute_metrics(self, results: list) -> dict:
        os.makedirs(os.path.dirname(os.path.abspath(self.out_file)), exist_ok=True)
        atomic_write_bytes(json.dumps(results).encode(), self.out_file)
        return {}
