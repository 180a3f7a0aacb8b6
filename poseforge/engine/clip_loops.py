"""Validation and test loops for clip datasets: the metrics are told the number of *frames*.

mmengine's loops call ``evaluator.evaluate(len(dataset))`` and its metrics keep only that many
results, which is right when a model returns one result per dataset sample. A clip model
returns one result per reported frame (:class:`~poseforge.datasets.clips.ClipDataset` reports
each frame once), so the count must be the dataset's ``num_reported_frames``: with the plain
loops all but the first ``len(dataset)`` frames would be dropped without a word.
"""
from __future__ import annotations

from mmengine.runner import TestLoop, ValLoop

from poseforge.registry import LOOPS

__all__ = ['ClipValLoop', 'ClipTestLoop']


class _FrameCount:
    def run(self):  # type: ignore[override]
        dataset = self.dataloader.dataset
        size = getattr(dataset, 'num_reported_frames', None)
        if size is None:
            return super().run()
        evaluate = self.evaluator.evaluate
        self.evaluator.evaluate = lambda _clips: evaluate(size)
        try:
            return super().run()
        finally:
            del self.evaluator.evaluate


@LOOPS.register_module()
class ClipValLoop(_FrameCount, ValLoop):
    """``ValLoop`` that evaluates every reported frame of a clip dataset."""


@LOOPS.register_module()
class ClipTestLoop(_FrameCount, TestLoop):
    """``TestLoop`` that evaluates every reported frame of a clip dataset."""
