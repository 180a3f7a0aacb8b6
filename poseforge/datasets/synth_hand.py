"""Loader for the generated synthetic hands (``tools/generate_dataset.py``).

Reads one split's COCO-style json (format: :mod:`poseforge.generation.writer`) and returns one
schema entry (:mod:`poseforge.datasets.base`) per annotated hand, with the calibration of its
view (``K``, ``R``, ``t``), the camera-frame ``keypoints_3d`` in mm and the ids that tie views of
one sample together (``view_id``, ``sample_id``).

Every record is checked while loading: a malformed one raises :class:`DatasetError` naming the
file, the record's index and id and what is wrong, instead of failing later inside a transform.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any

import numpy as np

from poseforge.datasets.base import (BaseKeypointDataset, DatasetError, bbox_xywh_to_xyxy,
                                     instance)
from poseforge.registry import DATASETS
from poseforge.skeletons import get_skeleton


@DATASETS.register_module()
class SynthHandDataset(BaseKeypointDataset):
    """Generated multi-view hands, 21 keypoints (``hand21``), one instance per image.

    Args:
        ann_file: a split's json, e.g. ``annotations/train.json`` (joined to ``data_root``).
        data_root: the generator's output directory.
        data_prefix: ``dict(img=...)``, the folder that ``file_name`` is relative to. Left out,
            it is ``images/<split>/`` with ``<split>`` the ann file's stem (the generator's
            layout).
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 **kwargs: Any) -> None:
        if data_prefix is None:
            stem = osp.splitext(osp.basename(ann_file))[0]
            data_prefix = dict(img=f'images/{stem}/')
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        data = self._read_json()
        images = self._index_images(data['images'])
        num_keypoints = get_skeleton(self.SKELETON).num_keypoints
        return [self._parse_annotation(index, ann, images, num_keypoints)
                for index, ann in enumerate(data['annotations'])]

    def _error(self, message: str) -> DatasetError:
        return DatasetError(f"{type(self).__name__}: '{self.ann_file}': {message}")

    def _read_json(self) -> dict:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise self._error(f'not valid json ({err})') from None
        if not isinstance(data, dict):
            raise self._error('top level is not an object with images and annotations')
        for key in ('images', 'annotations'):
            if not isinstance(data.get(key), list):
                raise self._error(f"missing or malformed '{key}' list")
        return data

    def _index_images(self, records: list) -> dict[int, dict]:
        """``images`` by id, each checked (file name, camera shapes)."""
        images: dict[int, dict] = {}
        for index, record in enumerate(records):
            where = f'image #{index}'
            if not isinstance(record, dict) or 'id' not in record or 'file_name' not in record:
                raise self._error(f'{where}: needs an id and a file_name')
            where = f"image #{index} (id={record['id']})"
            if record['id'] in images:
                raise self._error(f'{where}: duplicate image id')
            for key, shape in (('K', (3, 3)), ('R', (3, 3)), ('t', (3,))):
                if key in record:
                    _array(record[key], shape, key, lambda m, w=where: self._error(f'{w}: {m}'))
            images[record['id']] = record
        return images

    def _parse_annotation(self, index: int, ann: Any, images: dict[int, dict],
                          num_keypoints: int) -> dict:
        """One schema entry from annotation ``index`` (checked)."""
        if not isinstance(ann, dict):
            raise self._error(f'annotation #{index}: not an object')
        where = f"annotation #{index} (id={ann.get('id')})"

        def fail(message: str) -> DatasetError:
            return self._error(f'{where}: {message}')

        for key in ('id', 'image_id', 'bbox', 'keypoints'):
            if key not in ann:
                raise fail(f"missing '{key}'")
        image = images.get(ann['image_id'])
        if image is None:
            raise fail(f"image_id {ann['image_id']} is not in 'images'")
        keypoints = _array(ann['keypoints'], (num_keypoints, 3), 'keypoints', fail)
        bbox = _array(ann['bbox'], (4,), 'bbox', fail)
        if bbox[2] < 0 or bbox[3] < 0:
            raise fail(f'bbox has a negative size {bbox.tolist()}')
        extra: dict[str, Any] = {}
        if 'keypoints_3d' in ann:
            extra['keypoints_3d'] = _array(ann['keypoints_3d'], (num_keypoints, 3),
                                           'keypoints_3d', fail)
        for key in ('K', 'R', 't'):
            if key in image:
                extra[key] = np.asarray(image[key], dtype=np.float64)
        for key in ('view_id', 'sample_id', 'hand_side'):
            if key in image:
                extra[key] = image[key]
        img_path = osp.join(self.data_prefix.get('img', ''), image['file_name'])
        return instance(img_path, image['id'], ann['id'], bbox_xywh_to_xyxy(bbox),
                        keypoints[:, :2], (keypoints[:, 2] > 0).astype(np.float32), **extra)


def _array(value: Any, shape: tuple[int, ...], name: str, fail) -> np.ndarray:
    """``value`` as a float array of ``shape`` (a flat list of the right size is accepted)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(f'{name} is not numeric') from None
    size = int(np.prod(shape))
    if array.size != size:
        raise fail(f'{name} has {array.size} values, expected {size} ({"x".join(map(str, shape))})')
    if not np.all(np.isfinite(array)):
        raise fail(f'{name} has non-finite values')
    return array.reshape(shape)
