"""CMU Panoptic HandDB (Simon, Joo, Matthews and Sheikh, "Hand Keypoint Detection in Single
Images using Multiview Bootstrapping", CVPR 2017): mmpose's COCO-style json or the originals.

All formats are in ``hand21`` order already (wrist, then each finger root -> tip; mmpose's
``panoptic_hand2d.py`` meta), so nothing is reordered. Formats:

* ``json``: mmpose's ``annotations/panoptic_{train,test}.json``. Each annotation carries
  ``head_size`` (pixels), the normaliser of mmpose's PCKh@0.7 for this dataset; it goes into the
  schema. ``hand_side`` comes from the file name: the release names the two hands of a person
  ``<image>_l.jpg`` / ``<image>_r.jpg`` (the fixture's ``_l``/``_r`` files are one image with one
  hand annotated each); names without the suffix (``hand143_panopticdb/imgs/...``) get none.
* ``manual``: a ``hand_labels/manual_{train,test}/`` folder, one ``<name>.json`` per hand beside
  ``<name>.jpg``: ``hand_pts`` 21 x ``[x, y, visible]`` and ``is_left`` (which sets
  ``hand_side``). These files carry no head size that mmpose's conversion documents; a numeric
  ``head_size`` field is used when a file has one, otherwise the hand has none (the schema key is
  left out, and PCKh, which needs it, says so). Use mmpose's json to evaluate PCKh@0.7.
* ``hand143``: ``hand143_panopticdb/hands_v143_14817.json``, ``root[]`` of ``{img_paths,
  img_width, img_height, joint_self[21][x, y, visible], objpos}``; images are relative to the
  json's folder. No hand side, no head size.

For the originals the box is the tight box of the labelled keypoints with one pixel added to
its width and height, ``[x_min, y_min, x_max + 1, y_max + 1]``: exactly mmpose's boxes (``[x, y,
w + 1, h + 1]`` in its json; checked on all four fixture hands). ``img_id`` and ``id`` are the
file's index in name order (``manual``) or the record's index in ``root`` (``hand143``). Hands
without a labelled keypoint have no box and are dropped, counted in the log.

Evaluation as mmpose reports it: ``PCKAccuracy(thr=0.7, norm_item='head')`` (``PCKh@0.7``),
``AUC`` and ``EPE``; the base config adds the bbox PCK@0.2 of the other hand datasets.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
from typing import Any, Callable

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import DatasetError, instance
from poseforge.datasets.coco_style import Fail, as_array
from poseforge.datasets.multi_format import MultiFormatHandDataset, keypoint_bbox, log_dropped
from poseforge.registry import DATASETS

__all__ = ['PanopticHandDataset', 'panoptic_bbox', 'hand_side_from_name']

NUM_KEYPOINTS = 21
#: ``<image>_l.jpg`` / ``<image>_r.jpg``: the hand side in the release's file names.
_SIDE_SUFFIX = re.compile(r'_([lr])\.[^./\\]+$')
_SIDES = {'l': 'left', 'r': 'right'}


def panoptic_bbox(keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """mmpose's Panoptic box, ``[x_min, y_min, x_max + 1, y_max + 1]`` of the labelled
    keypoints ``(N, K, 2)``; ``(N, 4)``, NaN rows where nothing is labelled."""
    box = keypoint_bbox(keypoints, visible)
    box[:, 2:] += 1.0
    return box


def hand_side_from_name(file_name: str) -> str | None:
    """``'left'`` / ``'right'`` from a ``_l`` / ``_r`` file-name suffix, else ``None``."""
    match = _SIDE_SUFFIX.search(file_name)
    return _SIDES[match.group(1)] if match else None


def read_json(path: str, error: Callable[[str], DatasetError]) -> Any:
    """A json file's content; invalid json raises ``error`` naming the file."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise error(f"'{path}': not valid json ({err})") from None


@DATASETS.register_module()
class PanopticHandDataset(MultiFormatHandDataset):
    """CMU Panoptic HandDB, ``hand21``, with ``head_size`` and ``hand_side`` where known.

    Args:
        ann_file: mmpose's json, ``hands_v143_14817.json``, or a ``hand_labels/manual_*``
            folder (joined to ``data_root``).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``. Left out: the dataset root (json), the manual folder
            itself (manual), the json's folder (hand143).
        format: ``'auto'`` (a folder is ``manual``; a json is ``hand143`` when it holds
            ``root``, else mmpose's), ``'json'``, ``'manual'`` or ``'hand143'``.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    FORMATS = ('auto', 'json', 'manual', 'hand143')
    LAYOUT = ("CMU Panoptic HandDB's release layout (hand_labels/manual_{train,test}/<name>.json "
              'beside <name>.jpg, or hand143_panopticdb/hands_v143_14817.json with its imgs/) '
              "or mmpose's annotations/panoptic_{train,test}.json")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._preloaded: Any = None
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ format
    def resolve_format(self) -> str:
        """A folder is ``manual``; a json is told apart by its content (read once)."""
        if self.format != 'auto':
            return self.format
        if osp.isdir(self.ann_file):
            return 'manual'
        if osp.splitext(self.ann_file)[1].lower() != '.json':
            raise self.layout_error(f"'{self.ann_file}' is neither a json file nor a folder")
        self._preloaded = read_json(self.ann_file, self.layout_error)
        is_hand143 = isinstance(self._preloaded, dict) and 'root' in self._preloaded
        return 'hand143' if is_hand143 else 'json'

    def _read_json(self) -> dict:
        """mmpose's json, parsed once by :meth:`resolve_format` when the format was 'auto'."""
        if self._preloaded is None:
            return super()._read_json()
        data, self._preloaded = self._preloaded, None
        if not (isinstance(data, dict) and isinstance(data.get('images'), list)
                and isinstance(data.get('annotations'), list)):
            raise self.layout_error(f"'{self.ann_file}' has neither 'images' and 'annotations' "
                                    "lists nor a 'root' list")
        return data

    # ------------------------------------------------------------------ json
    def image_extras(self, image: dict, fail: Fail) -> dict:
        side = hand_side_from_name(str(image['file_name']))
        return {} if side is None else dict(hand_side=side)

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        if 'head_size' not in ann:
            return {}
        return dict(head_size=head_size(ann['head_size'], fail))

    # ------------------------------------------------------------------ originals
    def load_original(self, fmt: str) -> list[dict]:
        if fmt == 'manual':
            if not osp.isdir(self.ann_file):
                raise self.layout_error(f"format='manual' needs a folder, got '{self.ann_file}'")
            folder = self.image_folder(self.ann_file)
            return self.entries_from(self.read_manual_folder(self.ann_file), folder)
        folder = self.image_folder(osp.dirname(self.ann_file))
        return self.entries_from(self.read_hand143(self.ann_file), folder)

    def read_manual_folder(self, folder: str) -> list[dict]:
        """One record per ``<name>.json`` of a ``manual_*`` folder, in name order."""
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith('.json'))
        if not names:
            raise self.layout_error(f"folder '{folder}' has no <name>.json hand annotations")
        records = []
        for name in names:
            path = osp.join(folder, name)

            def fail(message: str, path: str = path) -> DatasetError:
                return DatasetError(f"PanopticHandDataset: '{path}': {message}")

            data = read_json(path, lambda m: DatasetError(f'PanopticHandDataset: {m}'))
            if not isinstance(data, dict):
                raise fail('expected an object with hand_pts and is_left')
            for key in ('hand_pts', 'is_left'):
                if key not in data:
                    raise fail(f"missing '{key}'")
            if data['is_left'] not in (0, 1, True, False):
                raise fail(f"is_left must be 0 or 1, got {data['is_left']!r}")
            records.append(dict(
                file_name=osp.splitext(name)[0] + '.jpg',
                points=as_array(data['hand_pts'], (NUM_KEYPOINTS, 3), 'hand_pts', fail),
                hand_side='left' if data['is_left'] else 'right',
                head_size=(head_size(data['head_size'], fail) if 'head_size' in data
                           else None)))
        return records

    def read_hand143(self, path: str) -> list[dict]:
        """One record per entry of ``hands_v143_14817.json``'s ``root``."""
        data = self._preloaded if self._preloaded is not None else read_json(
            path, self.layout_error)
        self._preloaded = None
        if not isinstance(data, dict) or not isinstance(data.get('root'), list):
            raise self.layout_error(f"'{path}' has no 'root' list")
        records = []
        for index, entry in enumerate(data['root']):

            def fail(message: str, index: int = index) -> DatasetError:
                return DatasetError(f"PanopticHandDataset: '{path}': root[{index}]: {message}")

            if not isinstance(entry, dict) or not isinstance(entry.get('img_paths'), str):
                raise fail('needs img_paths (a string) and joint_self')
            if 'joint_self' not in entry:
                raise fail("missing 'joint_self'")
            records.append(dict(
                file_name=entry['img_paths'],
                points=as_array(entry['joint_self'], (NUM_KEYPOINTS, 3), 'joint_self', fail),
                hand_side=None, head_size=None))
        return records

    def entries_from(self, records: list[dict], folder: str) -> list[dict]:
        """Schema entries of the records that have a labelled keypoint (index = id)."""
        if not records:
            return []
        points = np.stack([r['points'] for r in records])
        visible = points[..., 2] > 0
        boxes = panoptic_bbox(points[..., :2], visible)
        entries = []
        for index, (record, vis, box) in enumerate(zip(records, visible, boxes)):
            if not vis.any():
                continue
            extra = {k: record[k] for k in ('hand_side', 'head_size') if record[k] is not None}
            entries.append(instance(osp.join(folder, record['file_name']), index, index, box,
                                    points[index, :, :2], vis.astype(np.float32), **extra))
        log_dropped(self, len(records) - len(entries), len(records), 'no labelled keypoint')
        without_head = sum('head_size' not in e for e in entries)
        if without_head:
            print_log(f"PanopticHandDataset: '{self.ann_file}': {without_head} of "
                      f'{len(entries)} hands have no head_size (PCKh cannot be computed on '
                      'them)', logger='current')
        return entries


def head_size(value: Any, fail: Fail) -> float:
    """A positive, finite head size in pixels."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise fail(f'head_size must be a number, got {value!r}') from None
    if not np.isfinite(size) or size <= 0:
        raise fail(f'head_size must be positive and finite, got {value!r}')
    return size
