"""``HandBoxAP``: COCO box AP of a hand detector (pycocotools ``COCOeval``, ``iouType='bbox'``),
and how often the detector names the hand's side right.

Ground truth comes from the samples themselves (``meta['gt_boxes']`` / ``meta['gt_sides']`` in
image px, as the hand-box datasets give them), so any box source evaluates without a second
annotation file. Keys (fractions): ``AP``, ``AP .5``, ``AP .75``, ``AP (S)``, ``AP (M)``,
``AP (L)``, ``AR@10``, and ``side acc``: among ground-truth hands of known side matched by a
prediction (the best-scored one of IoU >= 0.5), the share whose predicted left probability is on
the right side of 0.5 (``nan`` when no hand of known side is matched).
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from poseforge.evaluation.metrics.coco_metric import coco_from_dict
from poseforge.codecs.center_box import box_iou
from poseforge.registry import METRICS

BOX_STATS = ('AP', 'AP .5', 'AP .75', 'AP (S)', 'AP (M)', 'AP (L)', 'AR@1', 'AR@10')
_STATS_INDEX = (0, 1, 2, 3, 4, 5, 6, 7)


def coco_box_eval(images: list[dict], gts: list[dict], dets: list[dict]
                  ) -> tuple[dict[str, float], str]:
    """COCO box AP of ``dets`` (``image_id``, ``bbox`` xywh, ``score``) against ``gts``."""
    from pycocotools.cocoeval import COCOeval
    coco_gt = coco_from_dict(dict(images=images, annotations=gts,
                                  categories=[dict(id=1, name='hand')]))
    if not dets or not gts:
        return {name: 0.0 for name in BOX_STATS}, 'no detections or no ground truth'
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco_dt = coco_gt.loadRes(dets)
        evaluator = COCOeval(coco_gt, coco_dt, 'bbox')
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = {name: float(max(evaluator.stats[i], 0.0)) for name, i in
             zip(BOX_STATS, _STATS_INDEX)}
    return stats, printed.getvalue()


def side_accuracy(records: Sequence[dict], iou_thr: float = 0.5) -> float:
    """Share of matched ground-truth hands of known side whose side was predicted right."""
    right, total = 0, 0
    for rec in records:
        known = rec['gt_sides'] >= 0
        if not known.any() or len(rec['boxes']) == 0:
            continue
        iou = box_iou(rec['gt_boxes'][known], rec['boxes'])
        best = np.where(iou >= iou_thr, rec['scores'][None, :], -1).argmax(1)
        matched = iou[np.arange(len(best)), best] >= iou_thr
        predicted_left = rec['left_prob'][best] >= 0.5
        truth_left = rec['gt_sides'][known] == 1
        right += int((predicted_left == truth_left)[matched].sum())
        total += int(matched.sum())
    return right / total if total else float('nan')


@METRICS.register_module()
class HandBoxAP(BaseMetric):
    """COCO box AP/AR and side accuracy of hand detections (module docstring)."""

    default_prefix = None

    def __init__(self, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(dict(
                img_id=int(sample['img_id']),
                gt_boxes=np.asarray(sample.get('gt_boxes', np.zeros((0, 4))),
                                    np.float32).reshape(-1, 4),
                gt_sides=np.asarray(sample.get('gt_sides', ()), np.int64).reshape(-1),
                boxes=np.asarray(sample['pred_boxes'], np.float32).reshape(-1, 4),
                scores=np.asarray(sample['pred_scores'], np.float32).reshape(-1),
                left_prob=np.asarray(sample['pred_left_prob'], np.float32).reshape(-1)))

    def compute_metrics(self, results: list) -> dict[str, float]:
        unique = {r['img_id']: r for r in results}  # a padded distributed sampler repeats
        records = list(unique.values())
        images, gts, dets = [], [], []
        for rec in records:
            images.append(dict(id=rec['img_id']))
            for box in rec['gt_boxes']:
                w, h = float(box[2] - box[0]), float(box[3] - box[1])
                gts.append(dict(id=len(gts) + 1, image_id=rec['img_id'], category_id=1,
                                bbox=[float(box[0]), float(box[1]), w, h], area=w * h,
                                iscrowd=0))
            for box, score in zip(rec['boxes'], rec['scores']):
                dets.append(dict(image_id=rec['img_id'], category_id=1, score=float(score),
                                 bbox=[float(box[0]), float(box[1]), float(box[2] - box[0]),
                                       float(box[3] - box[1])]))
        stats, printed = coco_box_eval(images, gts, dets)
        MMLogger.get_current_instance().info('\n' + printed)
        stats['side acc'] = side_accuracy(records)
        return stats
