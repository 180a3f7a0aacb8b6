"""COCO 2017 person keypoints (``CocoDataset``), read as mmpose 1.3.2 reads it.

Two ways to get the instances (one schema entry each, :mod:`poseforge.datasets.base`):

* **Ground-truth boxes** (training, and "AP on GT boxes"): every person annotation of
  ``person_keypoints_*.json``. As in mmpose's ``BaseCocoStyleDataset.parse_data_info`` the
  ``[x, y, w, h]`` box becomes ``x1 = clip(x, 0, W-1)``, ``y1 = clip(y, 0, H-1)``,
  ``x2 = clip(x + w, 0, W-1)``, ``y2 = clip(y + h, 0, H-1)`` (float64, then float32), and, as in
  its ``_is_valid_instance`` (which mmpose applies in training *and* test mode), an instance is
  dropped when it is a crowd region, has ``num_keypoints == 0``, a clipped box of zero width or
  height, or no keypoint coordinate above 0. Keeping the same instances in test mode is what
  makes the GT-box numbers comparable with mmpose's.
* **Person detections** (``bbox_file``, the usual COCO val protocol, e.g. mmpose's
  ``COCO_val2017_detections_AP_H_56_person.json``): a json list of
  ``{image_id, bbox [x, y, w, h], score, category_id}``. As in mmpose's
  ``_load_detection_results`` every category-1 detection becomes an instance with
  ``bbox_score = score``, the unclipped ``x, y, x + w, y + h`` box and ids numbered from 0 in
  file order; there are no keypoints, so ``keypoints`` are zeros and ``keypoints_visible`` is
  zeros too (mmpose writes ones there; nothing of it is ever evaluated, and zeros keep a PCK
  metric from scoring against the dummy points). ``det_score_thr`` drops detections scored
  below it (mmpose's ``filter_cfg=dict(bbox_score_thr=...)``; 0 keeps all, like mmpose's COCO
  configs).

Each ground-truth entry also keeps ``area``, ``iscrowd``, ``num_keypoints`` and ``category_id``:
:class:`~poseforge.evaluation.metrics.coco_metric.CocoMetric` needs them when it builds the
ground truth from the samples instead of reading the annotation file.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import DatasetError, bbox_xywh_to_xyxy, instance
from poseforge.datasets.coco_style import CocoStyleDataset, Fail, as_array
from poseforge.registry import DATASETS

#: COCO's person category (the only one with keypoints).
PERSON_CATEGORY = 1


def clip_bbox_xywh_to_image(bbox_xywh: np.ndarray, width: float, height: float) -> np.ndarray:
    """``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` clipped to ``[0, W-1] x [0, H-1]``.

    mmpose 1.3.2 ``parse_data_info``: the clip happens on the Python floats (float64) and the
    result is cast to float32 afterwards; the same order is kept so the boxes are identical.
    """
    x, y, w, h = np.asarray(bbox_xywh, dtype=np.float64).reshape(4)
    corners = np.array([x, y, x + w, y + h], dtype=np.float64)
    upper = np.array([width - 1, height - 1, width - 1, height - 1], dtype=np.float64)
    return np.clip(corners, 0, upper).astype(np.float32)


def fallback_area(bbox_xyxy: np.ndarray) -> float:
    """mmpose's area for an annotation without one: ``max(1, 0.53 * w * h)`` of the box."""
    x1, y1, x2, y2 = np.asarray(bbox_xyxy, dtype=np.float64).reshape(4)
    return float(max(1.0, (x2 - x1) * (y2 - y1) * 0.53))


def count_labelled(keypoints_xy: np.ndarray) -> int:
    """mmpose's ``num_keypoints`` when the annotation has none: keypoints whose larger
    coordinate is non-zero."""
    return int(np.count_nonzero(np.asarray(keypoints_xy).max(axis=-1)))


@DATASETS.register_module()
class CocoDataset(CocoStyleDataset):
    """COCO person keypoints (``coco17``), one entry per person, top-down.

    Args:
        ann_file: ``annotations/person_keypoints_{train,val}2017.json`` (joined to
            ``data_root``). In detection mode it only supplies the image file names.
        bbox_file: person detections (json list); test mode only, as in mmpose. A relative path
            is joined to ``data_root`` like ``ann_file``. ``None`` or ``''``: ground-truth boxes.
        det_score_thr: detections scored below this are dropped (detection mode only).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``: the folder ``file_name`` is relative to
            (``train2017/``, ``val2017/``).
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'coco17'

    def __init__(self, ann_file: str = '', bbox_file: str | None = None,
                 det_score_thr: float = 0.0, data_root: str = '',
                 data_prefix: dict | None = None, **kwargs: Any) -> None:
        self.bbox_file = bbox_file or None
        self.det_score_thr = float(det_score_thr)
        if self.bbox_file and not kwargs.get('test_mode', False):
            raise ValueError(f"{type(self).__name__}: bbox_file='{bbox_file}' is for evaluation "
                             'only (test_mode=True); training needs ground-truth boxes')
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=dict(img='') if data_prefix is None else data_prefix,
                         **kwargs)

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.bbox_file and self.data_root and not osp.isabs(self.bbox_file):
            self.bbox_file = osp.join(self.data_root, self.bbox_file)

    def full_init(self) -> None:
        if not self._fully_initialized and self.bbox_file:
            self.require_file(self.bbox_file, 'person detection file (bbox_file)')
        super().full_init()

    # ------------------------------------------------------------------ ground truth
    def load_data_list(self) -> list[dict]:
        if self.bbox_file:
            return self._load_detections()
        return super().load_data_list()

    def keep_instance(self, entry: dict, ann: dict) -> bool:
        """mmpose's ``_is_valid_instance``, in training and in test mode."""
        if ann.get('iscrowd', 0) or entry['num_keypoints'] == 0:
            return False
        width, height = entry['bbox'][2:] - entry['bbox'][:2]
        if width <= 0 or height <= 0:
            return False
        return bool(entry['keypoints'].max() > 0)

    def drop_reason(self) -> str:
        return 'crowd, no labelled keypoint, or an empty box, as mmpose drops them'

    def image_extras(self, image: dict, fail: Fail) -> dict:
        """Checks only: the box clipping needs the image size."""
        for key in ('width', 'height'):
            value = image.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise fail(f"needs a positive '{key}' (the boxes are clipped to the image), "
                           f'got {value!r}')
        return {}

    def bbox_xyxy(self, bbox_xywh: np.ndarray, image: dict) -> np.ndarray:
        return clip_bbox_xywh_to_image(bbox_xywh, image['width'], image['height'])

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        """``area``, ``iscrowd``, ``num_keypoints`` and ``category_id`` (defaults as mmpose)."""
        keypoints = as_array(ann['keypoints'], (self.num_keypoints, 3), 'keypoints', fail)
        if 'area' in ann:
            area = float(as_array(ann['area'], (1,), 'area', fail)[0])
        else:
            bbox = self.bbox_xyxy(as_array(ann['bbox'], (4,), 'bbox', fail), image)
            area = fallback_area(bbox)
        num_keypoints = ann.get('num_keypoints')
        if num_keypoints is None:
            num_keypoints = count_labelled(keypoints[:, :2])
        elif not isinstance(num_keypoints, (int, float)) or isinstance(num_keypoints, bool):
            raise fail(f'num_keypoints is not a number: {num_keypoints!r}')
        return dict(area=area, iscrowd=int(bool(ann.get('iscrowd', 0))),
                    num_keypoints=int(num_keypoints),
                    category_id=int(ann.get('category_id', PERSON_CATEGORY)))

    @property
    def num_keypoints(self) -> int:
        return int(self.metainfo['num_keypoints'])

    # ------------------------------------------------------------------ detections
    def _detection_error(self, message: str) -> DatasetError:
        return DatasetError(f"{type(self).__name__}: '{self.bbox_file}': {message}")

    def _read_detections(self) -> list:
        try:
            with open(self.bbox_file, encoding='utf-8') as f:
                detections = json.load(f)
        except json.JSONDecodeError as err:
            raise self._detection_error(f'not valid json ({err})') from None
        if not isinstance(detections, list):
            raise self._detection_error(
                'expected a json list of person detections {image_id, bbox [x, y, w, h], '
                f'score, category_id}}, got a {type(detections).__name__}')
        return detections

    def _load_detections(self) -> list[dict]:
        """One entry per person detection (mmpose ``_load_detection_results``)."""
        images = self._index_images(self._read_json()['images'])
        detections = self._read_detections()
        zeros_xy = np.zeros((self.num_keypoints, 2), dtype=np.float32)
        zeros_v = np.zeros(self.num_keypoints, dtype=np.float32)
        entries, next_id, below_thr = [], 0, 0
        for index, det in enumerate(detections):
            image, bbox, score, category = self._parse_detection(index, det, images)
            if category != PERSON_CATEGORY:
                continue
            det_id, next_id = next_id, next_id + 1  # numbered before any score filter
            if score < self.det_score_thr:
                below_thr += 1
                continue
            img_path = osp.join(self.data_prefix.get('img', ''), image['file_name'])
            entries.append(instance(img_path, image['id'], det_id, bbox_xywh_to_xyxy(bbox),
                                    zeros_xy, zeros_v, bbox_score=score,
                                    category_id=PERSON_CATEGORY))
        print_log(f"{type(self).__name__}: {len(entries)} person detections from "
                  f"'{self.bbox_file}'" + (f' ({below_thr} below det_score_thr='
                                           f'{self.det_score_thr} dropped)' if below_thr else ''),
                  logger='current')
        return entries

    def _parse_detection(self, index: int, det: Any, images: dict
                         ) -> tuple[dict, np.ndarray, float, int]:
        def fail(message: str) -> DatasetError:
            return self._detection_error(f'detection #{index}: {message}')

        if not isinstance(det, dict):
            raise fail('not an object')
        for key in ('image_id', 'bbox', 'score'):
            if key not in det:
                raise fail(f"missing '{key}'")
        box = det['bbox']
        if not isinstance(box, (list, tuple)) or len(box) < 4:
            raise fail(f'bbox must be a list [x, y, w, h], got {box!r}')
        bbox = as_array(list(box[:4]), (4,), 'bbox', fail)
        score = as_array(det['score'], (1,), 'score', fail)[0]
        category = det.get('category_id', PERSON_CATEGORY)
        image = images.get(det['image_id'])
        if image is None and category == PERSON_CATEGORY:
            raise fail(f"image_id {det['image_id']} is not in the images of '{self.ann_file}'")
        return image, bbox, float(score), category


__all__ = ['CocoDataset', 'clip_bbox_xywh_to_image', 'fallback_area', 'count_labelled']
