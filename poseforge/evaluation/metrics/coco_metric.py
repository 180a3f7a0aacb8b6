"""``CocoMetric``: COCO keypoint AP/AR (OKS) through pycocotools, as mmpose 1.3.2 scores it.

Steps (mmpose ``CocoMetric.compute_metrics``):

1. one prediction per ``(img_id, id)`` (duplicates from a padded distributed sampler dropped);
2. **rescoring** (``score_mode``): ``'bbox_keypoint'`` (default) gives each person
   ``bbox_score x mean(keypoint scores > keypoint_score_thr)`` (0 when none passes);
   ``'bbox'`` the box score; ``'keypoint'`` the mean keypoint score;
3. **OKS NMS** per image (``nms_mode='oks_nms'``): greedily keep the best-scored person and drop
   the others whose OKS with it is above ``nms_thr`` (mmpose ``oks_nms``: all keypoints, the
   mean of the two areas, ``vars = (2 sigma)^2``); ``'none'`` keeps every person;
4. pycocotools ``COCOeval(iouType='keypoints')`` with the skeleton's OKS sigmas against the
   ground truth: ``ann_file``, or, without one, a COCO json built from the samples' own ground
   truth (``keypoints``, ``keypoints_visible``, ``bbox``, ``area``, ``iscrowd``,
   ``num_keypoints``, ``category_id``; the last four must be in the samples' meta:
   ``PackPoseInputs(meta_keys=...)``).

A person's area for the NMS is mmpose's ``prod(bbox_scales)``: the padded, aspect-fixed crop,
which is ``|det(input_to_image)| x input_w x input_h`` here; without those keys it is the
keypoints' extent (mmpose's fallback). Keys, as mmpose reports them (fractions)::

    AP, AP .5, AP .75, AP (M), AP (L), AR, AR .5, AR .75, AR (M), AR (L)
"""
from __future__ import annotations

import contextlib
import io
import os.path as osp
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from poseforge.evaluation.metrics.keypoint_2d_metrics import to_numpy
from poseforge.registry import METRICS
from poseforge.skeletons import COCO17

__all__ = ['CocoMetric', 'STATS_NAMES', 'rescore_instances', 'oks_matrix', 'oks_nms',
           'coco_keypoint_eval']

#: ``COCOeval.stats`` names for ``iouType='keypoints'``, as mmpose reports them.
STATS_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75', 'AR (M)',
               'AR (L)')
SCORE_MODES = ('bbox_keypoint', 'bbox', 'keypoint')
NMS_MODES = ('oks_nms', 'none')


# --------------------------------------------------------------------------- functions
def rescore_instances(bbox_scores: np.ndarray, keypoint_scores: np.ndarray, mode: str,
                      keypoint_score_thr: float = 0.2) -> np.ndarray:
    """``(N,)`` person scores from box scores ``(N,)`` and keypoint scores ``(N, K)``.

    ``'bbox_keypoint'``: mmpose's ``bbox_score * mean of the keypoint scores strictly above
    the threshold`` (0 when none is); ``'bbox'``: the box score; ``'keypoint'``: the mean
    keypoint score.
    """
    bbox_scores = np.asarray(bbox_scores, dtype=np.float64).reshape(-1)
    keypoint_scores = np.asarray(keypoint_scores, dtype=np.float64)
    if mode == 'bbox':
        return bbox_scores
    if mode == 'keypoint':
        return keypoint_scores.mean(axis=1)
    if mode != 'bbox_keypoint':
        raise ValueError(f'score_mode must be one of {SCORE_MODES}, got {mode!r}')
    above = keypoint_scores > keypoint_score_thr
    count = above.sum(axis=1)
    mean = np.where(above, keypoint_scores, 0).sum(axis=1) / np.maximum(count, 1)
    return bbox_scores * np.where(count > 0, mean, 0.0)


def oks_matrix(keypoints_a: np.ndarray, keypoints_b: np.ndarray, areas_a: np.ndarray,
               areas_b: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """``(N, M)`` OKS between every person of ``a`` and of ``b`` over all K keypoints.

    mmpose ``oks_iou`` (no visibility threshold), vectorised:
    ``mean_k exp(-d_k^2 / (2 sigma_k)^2 / ((area_a + area_b) / 2 + eps) / 2)``.
    """
    a = np.asarray(keypoints_a, dtype=np.float64)[:, None]  # (N, 1, K, 2)
    b = np.asarray(keypoints_b, dtype=np.float64)[None]  # (1, M, K, 2)
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    mean_area = (np.asarray(areas_a, dtype=np.float64)[:, None]
                 + np.asarray(areas_b, dtype=np.float64)[None]) / 2 + np.spacing(1)
    squared = ((a - b) ** 2).sum(axis=-1)  # (N, M, K)
    e = squared / variances / mean_area[..., None] / 2
    return np.exp(-e).mean(axis=-1)


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, thr: float,
            sigmas: Sequence[float]) -> np.ndarray:
    """Indices kept by greedy OKS NMS (mmpose ``oks_nms``), best score first.

    The pairwise OKS is computed once; the greedy pass then only indexes it. Ties in score keep
    mmpose's order (``argsort()[::-1]`` of a stable sort: the later instance first).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(scores, kind='stable')[::-1]
    # mmpose keeps its OKS values in a float32 array before comparing with the threshold
    overlap = oks_matrix(keypoints, keypoints, areas, areas, sigmas).astype(np.float32)
    keep = []
    while len(order) > 0:
        best = order[0]
        keep.append(best)
        order = order[1:][overlap[best, order[1:]] <= thr]
    return np.array(keep, dtype=np.int64)


def coco_keypoint_eval(coco_gt: Any, results: list[dict], sigmas: Sequence[float]
                       ) -> tuple[np.ndarray, str]:
    """Run ``COCOeval(iouType='keypoints')``; returns its 10 ``stats`` and the printed text."""
    from pycocotools.cocoeval import COCOeval
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco_dt = coco_gt.loadRes(results)
        coco_eval = COCOeval(coco_gt, coco_dt, 'keypoints')
        coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return np.asarray(coco_eval.stats, dtype=np.float64), printed.getvalue()


def coco_from_dict(data: dict) -> Any:
    """A pycocotools ``COCO`` index over an in-memory json dict (no temporary file)."""
    from pycocotools.coco import COCO
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _instance_area(sample: dict, keypoints: np.ndarray) -> float:
    """mmpose's prediction area: the crop box area, else the keypoints' extent."""
    if sample.get('input_to_image') is not None and sample.get('input_size') is not None:
        matrix = to_numpy(sample['input_to_image']).astype(np.float64).reshape(2, 3)
        width, height = to_numpy(sample['input_size']).astype(np.float64).reshape(2)
        return float(abs(np.linalg.det(matrix[:, :2])) * width * height)
    extent = keypoints.max(axis=0) - keypoints.min(axis=0)
    return float(extent[0] * extent[1])


# --------------------------------------------------------------------------- metric
@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO keypoint AP/AR (OKS) with mmpose's rescoring and OKS NMS.

    Args:
        ann_file: the ground-truth json (``person_keypoints_val2017.json``). ``None``: build it
            from the samples (needs ``area``, ``iscrowd``, ``num_keypoints``, ``category_id``
            in their meta; crowd regions and instances without keypoints that the dataset
            dropped are then missing from the ground truth, as in mmpose).
        score_mode: ``'bbox_keypoint'`` (default), ``'bbox'`` or ``'keypoint'``.
        keypoint_score_thr: keypoint scores above it enter the ``'bbox_keypoint'`` mean.
        nms_mode: ``'oks_nms'`` (default, as mmpose) or ``'none'``.
        nms_thr: OKS above which a lower-scored person in the same image is suppressed.
        collect_device, prefix: as in mmengine's ``BaseMetric``.
    """

    default_prefix = ''

    def __init__(self, ann_file: str | None = None, score_mode: str = 'bbox_keypoint',
                 keypoint_score_thr: float = 0.2, nms_mode: str = 'oks_nms',
                 nms_thr: float = 0.9, collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if score_mode not in SCORE_MODES:
            raise ValueError(f'CocoMetric: score_mode must be one of {SCORE_MODES}, '
                             f'got {score_mode!r}')
        if nms_mode not in NMS_MODES:
            raise ValueError(f'CocoMetric: nms_mode must be one of {NMS_MODES}, '
                             f'got {nms_mode!r}')
        if ann_file and not osp.isfile(ann_file):
            raise FileNotFoundError(f"CocoMetric: annotation file not found: '{ann_file}'")
        self.ann_file = ann_file or None
        self.score_mode = score_mode
        self.keypoint_score_thr = float(keypoint_score_thr)
        self.nms_mode = nms_mode
        self.nms_thr = float(nms_thr)
        self._coco_gt: Any = None

    # ------------------------------------------------------------------ collection
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(self._record(sample))

    def _record(self, sample: dict) -> dict:
        for key in ('pred_keypoints', 'pred_scores', 'img_id', 'id'):
            if key not in sample:
                raise KeyError(f"CocoMetric needs '{key}' in every prediction dict; got keys "
                               f'{sorted(sample)}')
        keypoints = to_numpy(sample['pred_keypoints']).astype(np.float32).reshape(-1, 2)
        scores = to_numpy(sample['pred_scores']).astype(np.float32).reshape(-1)
        if len(scores) != len(keypoints):
            raise ValueError(f'CocoMetric: pred_keypoints {keypoints.shape} and pred_scores '
                             f'{scores.shape} do not match')
        record = dict(
            img_id=int(to_numpy(sample['img_id'])), id=int(to_numpy(sample['id'])),
            keypoints=keypoints, scores=scores,
            bbox_score=float(to_numpy(sample.get('bbox_score', 1.0)).reshape(-1)[0]),
            area=_instance_area(sample, keypoints),
            category_id=int(to_numpy(sample.get('category_id', 1))))
        if self.ann_file is None:
            record['gt'] = self._ground_truth_record(sample)
        return record

    @staticmethod
    def _ground_truth_record(sample: dict) -> dict:
        """The sample's own annotation, in COCO json form (``ann_file=None``)."""
        missing = [k for k in ('keypoints', 'keypoints_visible', 'bbox', 'area')
                   if k not in sample]
        if missing:
            raise KeyError(
                f'CocoMetric without ann_file builds the ground truth from the samples and '
                f"needs {missing} in their meta: add 'area', 'iscrowd', 'num_keypoints' and "
                "'category_id' to PackPoseInputs(meta_keys=...), or set ann_file")
        xy = to_numpy(sample['keypoints']).astype(np.float64).reshape(-1, 2)
        visible = to_numpy(sample['keypoints_visible']).reshape(-1) > 0
        x1, y1, x2, y2 = to_numpy(sample['bbox']).astype(np.float64).reshape(4)
        triplets = np.concatenate([xy, 2.0 * visible[:, None]], axis=1)
        num_keypoints = sample.get('num_keypoints')
        return dict(
            keypoints=triplets.ravel().tolist(), bbox=[x1, y1, x2 - x1, y2 - y1],
            area=float(to_numpy(sample['area']).reshape(-1)[0]),
            iscrowd=int(to_numpy(sample.get('iscrowd', 0))),
            num_keypoints=int(visible.sum() if num_keypoints is None
                              else to_numpy(num_keypoints)),
            category_id=int(to_numpy(sample.get('category_id', 1))))

    # ------------------------------------------------------------------ evaluation
    def compute_metrics(self, results: list) -> dict[str, float]:
        logger = MMLogger.get_current_instance()
        if not results:
            raise ValueError('CocoMetric has no results to evaluate: process() was never given '
                             'a sample (is the evaluation dataset empty?)')
        results = self._unique(results)
        keypoints = np.stack([r['keypoints'] for r in results])
        sigmas = self._sigmas(keypoints.shape[1])
        scores = rescore_instances([r['bbox_score'] for r in results],
                                   np.stack([r['scores'] for r in results]), self.score_mode,
                                   self.keypoint_score_thr)
        keep = self._nms(results, keypoints, scores, sigmas)
        logger.info(f'Evaluating CocoMetric: {len(keep)} people kept of {len(results)} '
                    f'(score_mode={self.score_mode}, nms_mode={self.nms_mode})')
        coco_gt = self._ground_truth(results)
        detections = [self._detection(results[i], scores[i]) for i in keep]
        known = set(coco_gt.getImgIds())
        unknown = sorted({d['image_id'] for d in detections} - known)
        if unknown:
            raise ValueError(f'CocoMetric: predictions for image ids {unknown[:5]} that the '
                             f"ground truth ('{self.ann_file or 'built from the samples'}') "
                             'does not have')
        stats, printed = coco_keypoint_eval(coco_gt, detections, sigmas)
        summary = [line for line in printed.splitlines() if line.lstrip().startswith('Average')]
        logger.info('\n' + '\n'.join(summary))
        return {name: float(value) for name, value in zip(STATS_NAMES, stats)}

    @staticmethod
    def _unique(results: list) -> list:
        """One record per ``(img_id, id)``, the first seen (mmpose ``_sort_and_unique_bboxes``)."""
        seen: dict[tuple[int, int], dict] = {}
        for record in results:
            seen.setdefault((record['img_id'], record['id']), record)
        return list(seen.values())

    def _sigmas(self, num_keypoints: int) -> np.ndarray:
        sigmas = (self.dataset_meta or {}).get('sigmas')
        if sigmas is None and num_keypoints == COCO17.num_keypoints:
            sigmas = COCO17.sigmas
        if sigmas is None or len(sigmas) != num_keypoints:
            raise ValueError(f'CocoMetric needs one OKS sigma per keypoint ({num_keypoints}); '
                             f"the dataset's metainfo gives {sigmas!r}")
        return np.asarray(sigmas, dtype=np.float64)

    def _nms(self, results: list, keypoints: np.ndarray, scores: np.ndarray,
             sigmas: np.ndarray) -> np.ndarray:
        """Indices kept, image by image (all of them for ``nms_mode='none'``)."""
        if self.nms_mode == 'none':
            return np.arange(len(results))
        img_ids = np.array([r['img_id'] for r in results])
        areas = np.array([r['area'] for r in results], dtype=np.float64)
        keep = []
        for img_id in np.unique(img_ids):
            members = np.flatnonzero(img_ids == img_id)
            kept = oks_nms(keypoints[members], scores[members], areas[members], self.nms_thr,
                           sigmas)
            keep.extend(members[kept].tolist())
        return np.array(sorted(keep), dtype=np.int64)

    @staticmethod
    def _detection(record: dict, score: float) -> dict:
        triplets = np.concatenate([record['keypoints'], record['scores'][:, None]], axis=1)
        return dict(image_id=record['img_id'], category_id=record['category_id'],
                    keypoints=triplets.astype(np.float64).ravel().tolist(), score=float(score))

    def _ground_truth(self, results: list) -> Any:
        if self.ann_file is not None:
            if self._coco_gt is None:
                from pycocotools.coco import COCO
                with contextlib.redirect_stdout(io.StringIO()):
                    self._coco_gt = COCO(self.ann_file)
            return self._coco_gt
        return coco_from_dict(self._json_from_samples(results))

    @staticmethod
    def _json_from_samples(results: list) -> dict:
        """A COCO keypoints json of the samples' own annotations."""
        annotations = [dict(r['gt'], id=r['id'], image_id=r['img_id']) for r in results]
        categories = sorted({a['category_id'] for a in annotations} | {1})
        return dict(
            images=[dict(id=i) for i in sorted({r['img_id'] for r in results})],
            annotations=annotations,
            categories=[dict(id=c, name='person' if c == 1 else str(c)) for c in categories])
