"""``MpiiPCKh``: the MPII benchmark's PCKh table (mmpose ``MpiiPCKAccuracy``, official rules).

Protocol: :mod:`poseforge.evaluation.functional.pckh` (head size = 0.6 x head-box diagonal,
from the dataset; ``<=`` threshold; Mean without pelvis and thorax, pooled over labelled
joints). Each prediction dict (``TopdownPoseEstimator(mode='predict')``) needs
``pred_keypoints``, ``keypoints``, ``keypoints_visible`` and ``head_size``
(``PackPoseInputs`` forwards ``head_size`` by default).

Keys (fractions in [0, 1]; x100 for the percentages papers print), main threshold first so
that ``save_best='auto'`` picks it::

    PCKh@0.5, PCKh@0.5/Head, /Shoulder, /Elbow, /Wrist, /Hip, /Knee, /Ankle, PCKh@0.1
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmengine.logging import MMLogger

from poseforge.evaluation.functional.pckh import (head_normalized_errors, mpii_pckh_summary,
                                                  pckh_counts)
from poseforge.evaluation.metrics.keypoint_2d_metrics import _KeypointMetric, to_numpy
from poseforge.registry import METRICS
from poseforge.skeletons import MPII16

__all__ = ['MpiiPCKh']


@METRICS.register_module()
class MpiiPCKh(_KeypointMetric):
    """PCKh on MPII: the official per-part table at ``thr`` and the mean at each of ``also``.

    Args:
        thr: the main threshold (0.5, the benchmark's).
        also: further thresholds reported as their mean only (``PCKh@0.1``).
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    def __init__(self, thr: float = 0.5, also: Sequence[float] = (0.1,),
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = float(thr)
        self.also = tuple(float(t) for t in also)

    def _collect(self, sample: dict) -> dict:
        record = super()._collect(sample)
        if 'head_size' not in sample:
            raise KeyError(
                "MpiiPCKh needs 'head_size' in every prediction dict. MpiiDataset provides it "
                "from the original .mat's head boxes, or for the json list with "
                "headbox_file='annotations/mpii_gt_val.mat'; PackPoseInputs forwards it.")
        head_size = float(to_numpy(sample['head_size']).reshape(-1)[0])
        if not np.isfinite(head_size) or head_size <= 0:
            raise ValueError(f"MpiiPCKh: sample id={sample.get('id')} "
                             f"('{sample.get('img_path')}') has head_size {head_size}; "
                             'PCKh needs a positive head size')
        record['head_size'] = head_size
        return record

    def _keypoint_names(self, num_keypoints: int) -> list[str]:
        names = (self.dataset_meta or {}).get('keypoint_names') or list(MPII16.keypoint_names)
        if len(names) != num_keypoints:
            raise ValueError(f'MpiiPCKh needs the 16 MPII joints (mpii16), got '
                             f'{num_keypoints} keypoints per sample')
        return list(names)

    def compute_metrics(self, results: list) -> dict[str, float]:
        pred, gt, mask = self._stack(results)
        names = self._keypoint_names(mask.shape[1])
        MMLogger.get_current_instance().info(
            f'Evaluating MpiiPCKh on {len(results)} people (head size normalised)...')
        head_size = np.array([r['head_size'] for r in results], dtype=np.float64)
        thrs = (self.thr,) + self.also
        correct, labelled = pckh_counts(head_normalized_errors(pred, gt, head_size), mask, thrs)
        table = mpii_pckh_summary(correct, labelled, names)
        key = f'PCKh@{self.thr}'
        metrics = {key: float(table['Mean'][0])}
        metrics.update({f'{key}/{part}': float(values[0])
                        for part, values in table.items() if part != 'Mean'})
        metrics.update({f'PCKh@{t}': float(table['Mean'][i + 1])
                        for i, t in enumerate(self.also)})
        return metrics
