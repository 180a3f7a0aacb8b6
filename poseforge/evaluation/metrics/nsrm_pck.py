"""``NSRMPCKAccuracy``: the NSRM paper's PCK (arg-max cells, tight keypoint box thresholds).

Reported beside mmpose's PCK@0.2 / AUC / EPE so that the published NSRM-over-CPM gains
(OneHand10K, CMU Panoptic) can be checked in their own protocol; the definition and where it
departs from the original are in :mod:`poseforge.evaluation.functional.nsrm_pck`.
"""
from __future__ import annotations

from typing import Sequence

from mmengine.logging import MMLogger

from poseforge.evaluation.functional.nsrm_pck import NSRM_PCK_THRESHOLDS, nsrm_pck
from poseforge.evaluation.metrics.keypoint_2d_metrics import _KeypointMetric
from poseforge.registry import METRICS

__all__ = ['NSRMPCKAccuracy']


@METRICS.register_module()
class NSRMPCKAccuracy(_KeypointMetric):
    """PCK of the NSRM protocol at each threshold and its mean.

    Keys: ``NSRM-PCK@<t>`` for every threshold and ``NSRM-mPCK`` (their mean).

    It scores ``pred_key`` (default ``pred_keypoints_grid``: the arg-max cell of each map
    times the stride, which ``TopdownPoseEstimator.predict`` emits beside the refined
    ``pred_keypoints``) against ``keypoints`` / ``keypoints_visible``; the thresholds are
    fractions of the side of the tight box around the labelled ground-truth keypoints.

    Args:
        thrs: thresholds; default the paper's (0.04, 0.06, 0.08, 0.10, 0.12).
        pred_key: which prediction to score (``'pred_keypoints'`` scores the refined ones in
            the same protocol).
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    def __init__(self, thrs: Sequence[float] = NSRM_PCK_THRESHOLDS,
                 pred_key: str = 'pred_keypoints_grid', collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thrs = tuple(float(t) for t in thrs)
        if not self.thrs or any(not t > 0 for t in self.thrs):
            raise ValueError(f'NSRMPCKAccuracy: thrs must be positive fractions, got {thrs!r}')
        self.pred_key = pred_key

    def _collect(self, sample: dict) -> dict:
        if self.pred_key not in sample:
            raise KeyError(f"NSRMPCKAccuracy needs '{self.pred_key}' in every prediction dict "
                           f'(TopdownPoseEstimator.predict emits pred_keypoints_grid); got '
                           f'keys {sorted(sample)}')
        renamed = dict(sample, pred_keypoints=sample[self.pred_key])
        return super()._collect(renamed)

    def compute_metrics(self, results: list) -> dict[str, float]:
        pred, gt, mask = self._stack(results)
        MMLogger.get_current_instance().info(f'Evaluating {type(self).__name__}...')
        values = nsrm_pck(pred, gt, mask, self.thrs)
        metrics = {f'NSRM-PCK@{t:g}': float(v) for t, v in zip(self.thrs, values)}
        metrics['NSRM-mPCK'] = float(values.mean())
        return metrics
