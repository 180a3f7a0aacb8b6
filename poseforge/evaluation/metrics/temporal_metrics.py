"""``TemporalSmoothness``: acceleration error and jitter of 3D predictions over videos, for any
3D model (per-frame estimators and clip models alike); definitions in
:mod:`poseforge.evaluation.functional.temporal`.

Inputs, per sample of the ``predict`` list: ``pred_key`` (K, 3) mm, ``keypoints_3d`` (K, 3)
mm (optional: without it only the prediction's jitter is reported), ``frame_id`` and the
``sequence_keys`` (default ``sequence_id``, ``view_id``: one camera's view of a sequence is
one video). Samples are grouped into videos, ordered by frame id and split where a frame is
missing; each frame then counts once in the means (pooled over all videos). Poses are made
root-relative first (``root_relative=True``, as the 3D EPE is), so the numbers measure the
shaking of the hand's shape, not of its position; ``False`` measures camera-frame joints.

Reported (names end in ``/<root>`` or ``/camera`` and, when the predictions carry a
``<pred_key>_given`` label, ``/<given>``): ``AccelError`` (mm / frame^2), ``Jitter`` (mm /
frame^3) and ``Jitter_gt`` (the ground truth's own jerk, for scale).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from poseforge.evaluation.functional.temporal import acceleration_error, consecutive_runs, jitter
from poseforge.registry import METRICS

__all__ = ['TemporalSmoothness']


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64, copy=True)


def _key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    return value.item() if isinstance(value, np.generic) else value


@METRICS.register_module()
class TemporalSmoothness(BaseMetric):
    """Acceleration error and jitter of a 3D prediction (module docstring).

    Args:
        pred_key: the prediction (``'pred_keypoints_3d'`` or ``'pred_keypoints_3d_est'``).
        root_relative: centre every pose on joint ``root_index`` first.
        root_index: the root joint.
        sequence_keys: sample keys that together name a video.
        frame_step: frame ids between consecutive frames.
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    default_prefix = ''

    def __init__(self, pred_key: str = 'pred_keypoints_3d', root_relative: bool = True,
                 root_index: int = 0, sequence_keys: Sequence[str] = ('sequence_id', 'view_id'),
                 frame_step: int = 1, collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.pred_key = pred_key
        self.root_relative = bool(root_relative)
        self.root_index = int(root_index)
        self.sequence_keys = tuple(sequence_keys)
        self.frame_step = int(frame_step)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            for key in (self.pred_key, 'frame_id', 'sequence_id'):
                if sample.get(key) is None:
                    raise KeyError(f"TemporalSmoothness needs '{key}' in every prediction dict "
                                   f'(a sequence dataset); got keys {sorted(sample)}')
            gt = sample.get('keypoints_3d')
            self.results.append(dict(
                video=tuple(_key(sample.get(k)) for k in self.sequence_keys),
                frame=int(sample['frame_id']),
                pred=_numpy(sample[self.pred_key]).reshape(-1, 3),
                gt=None if gt is None else _numpy(gt).reshape(-1, 3),
                given=sample.get(f'{self.pred_key}_given')))

    def _centre(self, track: np.ndarray) -> np.ndarray:
        if not self.root_relative:
            return track
        return track - track[:, self.root_index:self.root_index + 1]

    def compute_metrics(self, results: list) -> dict[str, float]:
        if not results:
            raise ValueError('TemporalSmoothness has no results to evaluate')
        videos: dict[tuple, list[dict]] = defaultdict(list)
        for r in results:
            videos[r['video']].append(r)
        accel, jit, jit_gt = [], [], []
        has_gt = all(r['gt'] is not None for r in results)
        for video, frames in videos.items():
            frames.sort(key=lambda r: r['frame'])
            ids = np.array([r['frame'] for r in frames])
            if len(np.unique(ids)) < len(ids):
                raise ValueError(f'TemporalSmoothness: video {video} has a frame more than once '
                                 '(overlapping clips reported twice?)')
            pred = self._centre(np.stack([r['pred'] for r in frames]))
            gt = self._centre(np.stack([r['gt'] for r in frames])) if has_gt else None
            for run in consecutive_runs(ids, self.frame_step):
                jit.append(jitter(pred[run]))
                if gt is not None:
                    accel.append(acceleration_error(pred[run], gt[run]))
                    jit_gt.append(jitter(gt[run]))
        frames_counted = sum(len(a) for a in (accel if has_gt else jit))
        if frames_counted == 0:
            raise ValueError('TemporalSmoothness: no video has enough consecutive frames (3 for '
                             'the acceleration, 4 for jitter)')
        labels = {r['given'] for r in results}
        given = labels.pop() if len(labels) == 1 else None
        tail = ('/camera' if not self.root_relative else f'/root{self.root_index}') + (
            f'/{given}' if given else '')
        metrics = {f'Jitter{tail}': float(np.concatenate(jit).mean())}
        if has_gt:
            metrics[f'AccelError{tail}'] = float(np.concatenate(accel).mean())
            metrics[f'Jitter_gt{tail}'] = float(np.concatenate(jit_gt).mean())
        MMLogger.get_current_instance().info(
            f'TemporalSmoothness over {len(videos)} videos, {len(results)} frames '
            f'({self.pred_key})')
        return metrics
