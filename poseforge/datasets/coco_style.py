"""``CocoStyleDataset``: the COCO-keypoints json reader every json-based loader builds on.

COCO itself, mmpose's converted OneHand10K / RHD / CMU Panoptic files and poseforge's generated
hands all share one layout: ``images`` (``id``, ``file_name``, ...) and ``annotations``
(``id``, ``image_id``, ``bbox`` ``[x, y, w, h]``, ``keypoints`` ``K x [x, y, v]``, ...). This
class reads and checks it once; subclasses say what differs:

* ``SKELETON`` and ``KEYPOINT_ORDER`` (``KEYPOINT_ORDER[i]`` = the file's index of skeleton
  keypoint ``i``; ``None`` when the file already uses the skeleton's order),
* :meth:`image_extras` / :meth:`annotation_extras` for dataset-specific fields,
* :meth:`keep_instance` for filtering (crowd boxes, instances without labelled keypoints).

A malformed record raises :class:`DatasetError` naming the file, the record's index and id and
what is wrong, instead of failing later inside a transform. Dropped instances are counted in
the log.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Callable, Sequence

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import (BaseKeypointDataset, DatasetError, bbox_xywh_to_xyxy,
                                     instance)
from poseforge.skeletons import get_skeleton

Fail = Callable[[str], DatasetError]


class CocoStyleDataset(BaseKeypointDataset):
    """COCO-keypoints json, one schema entry per kept annotation.

    Args:
        ann_file: the json (joined to ``data_root``).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``: the folder ``file_name`` is relative to.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    KEYPOINT_ORDER: Sequence[int] | None = None

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        data = self._read_json()
        images = self._index_images(data['images'])
        num_keypoints = (len(self.KEYPOINT_ORDER) if self.KEYPOINT_ORDER is not None
                         else get_skeleton(self.SKELETON).num_keypoints)
        entries, dropped = [], 0
        for index, ann in enumerate(data['annotations']):
            entry = self._parse_annotation(index, ann, images, num_keypoints)
            if self.keep_instance(entry, ann):
                entries.append(entry)
            else:
                dropped += 1
        if dropped:
            print_log(f'{type(self).__name__}: dropped {dropped} of {len(data["annotations"])} '
                      f"instances of '{self.ann_file}' ({self.drop_reason()})",
                      logger='current')
        return entries

    def keep_instance(self, entry: dict, ann: dict) -> bool:
        """Training drops crowd boxes and instances with no labelled keypoint."""
        if self.test_mode:
            return True
        return not ann.get('iscrowd', 0) and bool(entry['keypoints_visible'].any())

    def drop_reason(self) -> str:
        return 'crowd, or no labelled keypoint'

    def image_extras(self, image: dict, fail: Fail) -> dict:
        """Fields of an ``images`` record to copy into each of its instances."""
        return {}

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        """Dataset-specific fields of an annotation (``keypoints_3d``, ``head_size``, ...)."""
        return {}

    # ------------------------------------------------------------------ parsing
    def error(self, message: str) -> DatasetError:
        return DatasetError(f"{type(self).__name__}: '{self.ann_file}': {message}")

    def _read_json(self) -> dict:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise self.error(f'not valid json ({err})') from None
        if not isinstance(data, dict):
            raise self.error('top level is not an object with images and annotations')
        for key in ('images', 'annotations'):
            if not isinstance(data.get(key), list):
                raise self.error(f"missing or malformed '{key}' list")
        return data

    def _index_images(self, records: list) -> dict[Any, dict]:
        """``images`` by id, each checked."""
        images: dict[Any, dict] = {}
        for index, record in enumerate(records):
            if not isinstance(record, dict) or 'id' not in record or 'file_name' not in record:
                raise self.error(f'image #{index}: needs an id and a file_name')
            where = f"image #{index} (id={record['id']})"
            if record['id'] in images:
                raise self.error(f'{where}: duplicate image id')
            record = dict(record)
            record['_extras'] = self.image_extras(
                record, lambda m, w=where: self.error(f'{w}: {m}'))
            images[record['id']] = record
        return images

    def _parse_annotation(self, index: int, ann: Any, images: dict, num_keypoints: int) -> dict:
        if not isinstance(ann, dict):
            raise self.error(f'annotation #{index}: not an object')
        where = f"annotation #{index} (id={ann.get('id')})"

        def fail(message: str) -> DatasetError:
            return self.error(f'{where}: {message}')

        for key in ('id', 'image_id', 'bbox', 'keypoints'):
            if key not in ann:
                raise fail(f"missing '{key}'")
        image = images.get(ann['image_id'])
        if image is None:
            raise fail(f"image_id {ann['image_id']} is not in 'images'")
        keypoints = as_array(ann['keypoints'], (num_keypoints, 3), 'keypoints', fail)
        if self.KEYPOINT_ORDER is not None:
            keypoints = keypoints[np.asarray(self.KEYPOINT_ORDER)]
        bbox = as_array(ann['bbox'], (4,), 'bbox', fail)
        if bbox[2] < 0 or bbox[3] < 0:
            raise fail(f'bbox has a negative size {bbox.tolist()}')
        extra = dict(image['_extras'])
        extra.update(self.annotation_extras(ann, image, fail))
        img_path = osp.join(self.data_prefix.get('img', ''), image['file_name'])
        return instance(img_path, image['id'], ann['id'], self.bbox_xyxy(bbox, image),
                        keypoints[:, :2], (keypoints[:, 2] > 0).astype(np.float32), **extra)

    def bbox_xyxy(self, bbox_xywh: np.ndarray, image: dict) -> np.ndarray:
        """The instance box as ``x1, y1, x2, y2`` (subclasses may clip it to the image)."""
        return bbox_xywh_to_xyxy(bbox_xywh)


def as_array(value: Any, shape: tuple[int, ...], name: str, fail: Fail) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (a flat list of the right size is accepted)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(f'{name} is not numeric') from None
    size = int(np.prod(shape))
    if array.size != size:
        raise fail(f'{name} has {array.size} values, expected {size} '
                   f'({"x".join(map(str, shape))})')
    if not np.all(np.isfinite(array)):
        raise fail(f'{name} has non-finite values')
    return array.reshape(shape)
