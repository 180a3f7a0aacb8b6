"""``HandSideAccuracy``: how well a :class:`~poseforge.models.classifiers.PalmClassifier` tells
the palm from the back, and the hand side that follows with the keypoints' winding
(:mod:`poseforge.codecs.hand_side`).

Keys (fractions over the hands of known side whose palm triangle is labelled): ``palm acc``;
``side acc``: the side from the ground-truth keypoints' winding and the predicted facing,
over the hands whose palm is not edge-on; ``side decided``: the share of hands that are not
edge-on (the rest get no side vote in the demo). The ground-truth keypoints isolate the
classifier; the demo uses its pose network's keypoints instead.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from poseforge.codecs.hand_side import left_prob_from_palm, palm_facing_target, palm_is_labelled
from poseforge.registry import METRICS


@METRICS.register_module()
class HandSideAccuracy(BaseMetric):
    """Palm-facing and hand-side accuracy of palm-classifier predictions (module docstring)."""

    default_prefix = ''

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            side = sample.get('hand_side')
            kpts = np.asarray(sample['keypoints'], np.float64).reshape(-1, 2)
            visible = np.asarray(sample.get('keypoints_visible', np.ones(len(kpts))),
                                 np.float64).reshape(-1)
            if side not in ('left', 'right') or not palm_is_labelled(visible):
                continue
            self.results.append(dict(id=sample.get('id'), keypoints=kpts,
                                     is_left=side == 'left',
                                     palm_prob=float(sample['pred_palm_prob'])))

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique = list({r['id']: r for r in results}.values()) if all(
            r['id'] is not None for r in results) else results  # padded samplers repeat
        if not unique:
            return {'palm acc': float('nan'), 'side acc': float('nan'), 'side decided': 0.0}
        kpts = np.stack([r['keypoints'] for r in unique])
        is_left = np.array([r['is_left'] for r in unique])
        prob = np.array([r['palm_prob'] for r in unique])
        palm_truth = palm_facing_target(kpts, is_left)
        left = left_prob_from_palm(kpts, prob)
        decided = np.isfinite(left)
        side_right = (left[decided] >= 0.5) == is_left[decided]
        return {'palm acc': float(((prob >= 0.5) == palm_truth).mean()),
                'side acc': float(side_right.mean()) if decided.any() else float('nan'),
                'side decided': float(decided.mean())}
