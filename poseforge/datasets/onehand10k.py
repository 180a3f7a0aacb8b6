"""OneHand10K (Wang, Peng and Liu, "Mask-pose cascaded CNN for 2D hand pose estimation from a
single color image", TCSVT 2019): mmpose's COCO-style json or the original ``label_joint.txt``.

Both formats give the same schema (:mod:`poseforge.datasets.base`), one instance per image,
21 keypoints already in ``hand21`` order (wrist, then thumb, forefinger, middle, ring and pinky
finger, each root -> tip; mmpose's ``onehand10k.py`` meta), so nothing is reordered.

* ``json``: mmpose's ``annotations/onehand10k_{train,test}.json``. ``file_name`` is relative to
  ``data_prefix['img']`` (the dataset root by default, mmpose's ``data_prefix=dict(img='')``).
  Its boxes are mmpose's and are **not** a function of the keypoints: in the fixture they are
  1.08-1.45x the tight keypoint box and off-centre, which fits the bounding rectangle of the
  hand masks (``Train/mask``) that the CSV lacks. An unlabelled point is ``(0, 0, 0)``.
* ``csv``: the release's ``{Train,Test}/label_joint.txt``, one line per image,
  ``name,width,height,hand_number,x1,y1,...,x21,y21``; a negative coordinate (the release writes
  ``-1``) marks a missing point. Images are ``{Train,Test}/source/<name>`` (the default
  ``data_prefix['img']`` is the ``source`` folder beside the file). The box is
  :data:`CSV_BBOX_SCALE` (1.2) times the tight box of the labelled points, about its centre, not
  clipped to the image: the factor mmpose's RHD conversion uses (see ``rhd.py``) and close to
  the median ratio of mmpose's mask boxes to the keypoint box. A line without a labelled point
  has no box and is dropped, counted in the log. ``img_id`` and ``id`` are the numeric file
  stem (``'9.jpg'`` -> 9, as in mmpose's json), or the 1-based line number for other names.

The json-or-original machinery shared with RHD and CMU Panoptic is in
:mod:`poseforge.datasets.multi_format`.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np

from poseforge.datasets.base import DatasetError, instance
from poseforge.datasets.multi_format import MultiFormatHandDataset, keypoint_bbox, log_dropped
from poseforge.registry import DATASETS

__all__ = ['OneHand10KDataset', 'read_label_joint', 'CSV_BBOX_SCALE']

NUM_KEYPOINTS = 21
#: name, width, height, hand_number, then x, y of each of the 21 keypoints.
CSV_FIELDS = 4 + 2 * NUM_KEYPOINTS
#: The CSV box: this factor times the tight box of the labelled keypoints (see module doc).
CSV_BBOX_SCALE = 1.2


def read_label_joint(path: str) -> tuple[list[str], list[int], np.ndarray]:
    """Parse ``label_joint.txt``: image names, their 1-based line numbers and ``(N, 21, 2)``
    coordinates (negative = missing, as written). Blank lines are skipped; a malformed line
    raises :class:`DatasetError` naming the file and the line."""
    names, line_numbers, rows = [], [], []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, start=1):
            fields = [field.strip() for field in line.strip().split(',')]
            if fields == ['']:
                continue
            where = f"OneHand10K: '{path}', line {number}"
            if len(fields) != CSV_FIELDS:
                raise DatasetError(
                    f'{where}: expected {CSV_FIELDS} comma-separated fields (name, width, '
                    f'height, hand_number, x1, y1, ..., x21, y21), got {len(fields)}')
            if not fields[0]:
                raise DatasetError(f'{where}: empty image name')
            try:
                values = np.array(fields[1:], dtype=np.float64)
            except ValueError:
                raise DatasetError(f'{where}: non-numeric value among {fields[1:]}') from None
            if not np.all(np.isfinite(values)):
                raise DatasetError(f'{where}: non-finite value')
            names.append(fields[0])
            line_numbers.append(number)
            rows.append(values[3:])
    points = np.asarray(rows, dtype=np.float64).reshape(-1, NUM_KEYPOINTS, 2)
    return names, line_numbers, points


def image_id_from_name(name: str, line_number: int) -> int:
    """The numeric file stem (mmpose's json uses it as image id), else the line number."""
    stem = osp.splitext(osp.basename(name))[0]
    return int(stem) if stem.isdigit() else line_number


@DATASETS.register_module()
class OneHand10KDataset(MultiFormatHandDataset):
    """OneHand10K, ``hand21``, from mmpose's json or the original ``label_joint.txt``.

    Args:
        ann_file: the json, ``label_joint.txt`` (any ``.txt``/``.csv``), or a ``Train``/``Test``
            folder holding ``label_joint.txt`` (joined to ``data_root``).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``. Left out: the dataset root for the json (mmpose's
            ``file_name`` carries ``Train/source/...``), the ``source`` folder beside
            ``label_joint.txt`` for the CSV.
        format: ``'auto'`` (from the extension), ``'json'`` or ``'csv'``.
        csv_bbox_scale: CSV box size as a multiple of the tight keypoint box.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    FORMATS = ('auto', 'json', 'csv')
    EXTENSIONS = {'.json': 'json', '.txt': 'csv', '.csv': 'csv'}
    LAYOUT = ("OneHand10K's release layout ({Train,Test}/label_joint.txt beside "
              "{Train,Test}/source/*.jpg) or mmpose's annotations/onehand10k_{train,test}.json")

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 format: str = 'auto', csv_bbox_scale: float = CSV_BBOX_SCALE,
                 **kwargs: Any) -> None:
        if not csv_bbox_scale > 0:
            raise ValueError(f'{type(self).__name__}: csv_bbox_scale must be positive, '
                             f'got {csv_bbox_scale}')
        self.csv_bbox_scale = float(csv_bbox_scale)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         format=format, **kwargs)

    def annotation_in_folder(self, folder: str) -> str:
        inner = osp.join(folder, 'label_joint.txt')
        if not osp.isfile(inner):
            raise self.layout_error(f"folder '{folder}' has no label_joint.txt")
        return inner

    def load_original(self, fmt: str) -> list[dict]:
        """One entry per line of ``label_joint.txt`` that has a labelled keypoint."""
        folder = self.image_folder(osp.join(osp.dirname(self.ann_file), 'source'))
        names, line_numbers, points = read_label_joint(self.ann_file)
        visible = (points >= 0).all(axis=2)
        keypoints = np.where(visible[..., None], points, 0.0)
        boxes = keypoint_bbox(keypoints, visible, self.csv_bbox_scale)
        entries: list[dict] = []
        seen: dict[int, int] = {}
        for name, number, kp, vis, box in zip(names, line_numbers, keypoints, visible, boxes):
            img_id = image_id_from_name(name, number)
            if img_id in seen:
                raise DatasetError(f"{type(self).__name__}: '{self.ann_file}', line {number}: "
                                   f'image id {img_id} ({name}) repeats line {seen[img_id]}')
            seen[img_id] = number
            if vis.any():
                entries.append(instance(osp.join(folder, name), img_id, img_id, box, kp,
                                        vis.astype(np.float32)))
        log_dropped(self, len(names) - len(entries), len(names), 'no labelled keypoint')
        return entries
