"""Teacher tasks as keypoint subsets: training a teacher on some keypoints, scoring each task.

Knowledge amalgamation merges teachers that each know part of the union task. Here a *task* is
a set of keypoints of the union layout (e.g. the fingers a hand teacher was trained on, or the
17 body joints of a body teacher inside a body + hand layout). Two small pieces make such
teachers and students measurable with the ordinary tools:

* :class:`MaskKeypoints` (a pipeline transform placed after ``GenerateTarget``) zeroes the
  keypoint weights outside a task, so a teacher learns those keypoints only (its other output
  maps receive no gradient from the ground truth);
* :class:`TaskPCKAccuracy` (a metric) reports PCK over every task's keypoints besides the
  overall PCK: ``PCK@0.2/<task>`` is the mean of the per-keypoint accuracies of the task's
  keypoints (the PCK definition restricted to them), ``PCK@0.2/<task>/<keypoint>`` each.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from poseforge.evaluation.metrics.keypoint_2d_metrics import PCKAccuracy
from poseforge.registry import METRICS, TRANSFORMS
from poseforge.utils.config import ConfigError

#: generated hands split by fingers with one finger in common (hand21 order: wrist, thumb 1-4,
#: index 5-8, middle 9-12, ring 13-16, little 17-20): the wrist and the middle finger are
#: known to both teachers, where selection of the least ambiguous teacher matters
HAND_FINGER_TASKS = {
    'thumb_index_middle': list(range(0, 13)),
    'middle_ring_little': [0] + list(range(9, 21)),
}


def check_task_keypoints(tasks: Mapping[str, Sequence[int]], num_keypoints: int | None,
                         what: str) -> dict[str, list[int]]:
    """``{name: sorted unique indices}``; an empty, negative or out-of-range index is a config
    error naming the task."""
    checked = {}
    for name, indices in tasks.items():
        indices = [int(i) for i in indices]
        if not indices:
            raise ConfigError(f"{what}: task '{name}' has no keypoints")
        bad = [i for i in indices if i < 0 or (num_keypoints is not None and i >= num_keypoints)]
        if bad:
            raise ConfigError(f"{what}: task '{name}' names keypoints {bad} outside 0.."
                              f'{(num_keypoints or 0) - 1}')
        if len(set(indices)) != len(indices):
            raise ConfigError(f"{what}: task '{name}' repeats a keypoint: {indices}")
        checked[str(name)] = indices
    return checked


@TRANSFORMS.register_module()
class MaskKeypoints:
    """Zero ``keypoint_weights`` of every keypoint outside ``keep`` (after ``GenerateTarget``).

    Args:
        keep: the indices of the keypoints to learn.
    """

    def __init__(self, keep: Sequence[int]) -> None:
        self.keep = np.asarray(sorted({int(i) for i in keep}), dtype=np.int64)
        if self.keep.size == 0 or self.keep.min() < 0:
            raise ConfigError(f'MaskKeypoints: keep must list keypoint indices >= 0, got {keep}')

    def __call__(self, results: dict) -> dict:
        if 'keypoint_weights' not in results:
            raise KeyError("MaskKeypoints needs 'keypoint_weights': place it after "
                           'GenerateTarget in the pipeline')
        weights = np.asarray(results['keypoint_weights'])
        if self.keep.max() >= weights.shape[-1]:
            raise ConfigError(f'MaskKeypoints: keep {self.keep.tolist()} exceeds the '
                              f'{weights.shape[-1]} keypoints of the sample')
        mask = np.zeros(weights.shape[-1], dtype=weights.dtype)
        mask[self.keep] = 1
        results['keypoint_weights'] = weights * mask
        return results

    def __repr__(self) -> str:
        return f'MaskKeypoints(keep={self.keep.tolist()})'


@METRICS.register_module()
class TaskPCKAccuracy(PCKAccuracy):
    """:class:`PCKAccuracy` (bbox) plus one PCK per task (a keypoint subset).

    Args:
        tasks: ``{name: keypoint indices}``.
        thr / per_joint / prefix: as :class:`PCKAccuracy` (``norm_item='bbox'``).
    """

    def __init__(self, tasks: Mapping[str, Sequence[int]], thr: float = 0.2,
                 per_joint: bool = False, collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(thr=thr, norm_item='bbox', per_joint=False,
                         collect_device=collect_device, prefix=prefix)
        self.tasks = check_task_keypoints(tasks, None, 'TaskPCKAccuracy')
        self.task_per_joint = per_joint

    def compute_metrics(self, results: list) -> dict[str, float]:
        from poseforge.evaluation.functional import keypoint_pck_accuracy
        pred, gt, mask = self._stack(results)
        sizes = self._sizes('bbox', results)
        norm = np.repeat(sizes[:, None], pred.shape[-1], axis=1)
        acc, avg, _ = keypoint_pck_accuracy(pred, gt, mask, self.thr, norm)
        key = f'PCK@{self.thr}'
        metrics = {key: float(avg)}
        for name, indices in self.tasks.items():
            if max(indices) >= acc.size:
                raise ConfigError(f"TaskPCKAccuracy: task '{name}' names keypoint "
                                  f'{max(indices)}, the predictions have {acc.size}')
            metrics[f'{key}/{name}'] = task_pck(acc, indices)
            if self.task_per_joint:
                metrics.update({f'{key}/{name}/{i}': float(acc[i]) for i in indices})
        return metrics


def task_pck(per_joint_accuracy: np.ndarray, indices: Sequence[int]) -> float:
    """Mean accuracy of the task's keypoints that were ever visible (mmpose marks a keypoint
    never visible with -1 and leaves it out of the mean, as PCK does)."""
    values = np.asarray(per_joint_accuracy, dtype=np.float64)[list(indices)]
    values = values[values >= 0]
    return float(values.mean()) if values.size else 0.0


def union_of_teachers(per_joint: Mapping[str, Sequence[float]],
                      tasks: Mapping[str, Sequence[int]]) -> tuple[float, np.ndarray]:
    """The reference an amalgamated student is measured against: each keypoint predicted by
    the teacher(s) whose task includes it (the best of them where several do).

    Args:
        per_joint: ``{teacher task name: (K,) per-keypoint accuracy}`` (-1: never visible).
        tasks: ``{teacher task name: keypoint indices}``.
    Returns:
        ``(PCK, (K,) accuracy)``: the mean over keypoints that some teacher knows and that are
        visible somewhere, and each keypoint's accuracy (-1 where no teacher knows it).
    """
    num = len(next(iter(per_joint.values())))
    best = np.full(num, -1.0)
    for name, indices in tasks.items():
        acc = np.asarray(per_joint[name], dtype=np.float64)
        for i in indices:
            best[i] = max(best[i], acc[i])
    valid = best >= 0
    return (float(best[valid].mean()) if valid.any() else 0.0), best
