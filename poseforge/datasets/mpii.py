"""MPII Human Pose (``MpiiDataset``): the HRNet/mmpose json list or the original release .mat.

Both readers give the same schema entries (:mod:`poseforge.datasets.base`), ``mpii16`` order
(the dataset's joint ids 0..15), in 0-based image pixels:

**The json list** (``annotations/mpii_{train,val}.json`` of HRNet and mmpose): one record per
person, ``{image, center [x, y], scale, joints [16 x [x, y]], joints_vis [16]}`` in MATLAB
(1-based) coordinates, ``scale`` in units of 200 px. As mmpose's ``MpiiDataset`` does:

* the centre moves down by ``15 * scale`` px (``center[1] += 15 / 200 * scale * 200``, "to
  avoid cropping limbs") unless it is the ``-1`` placeholder, then both coordinates lose 1;
* the box is the centre +- ``scale * 200 / 2`` (mmpose ``bbox_cs2xyxy``); the 1.25 enlargement
  of HRNet / mmpose 0.x is ``GetBBoxCenterScale(padding=1.25)`` in the pipeline, as in mmpose
  1.x;
* ``area = max(1, 0.53 * w * h)``, ``category_id = 1``, ``id`` = the record's index,
  ``img_id`` = the image name's number.

The joints lose 1 as well (mmpose 0.x and HRNet do this; mmpose 1.x keeps them 1-based while
its centre is 0-based, and adds 1 to the predictions in ``MpiiPCKAccuracy`` instead; distances,
hence PCKh, are the same either way). ``joints_vis`` marks the *labelled* joints (HRNet writes
``-1, -1`` for the others); unlabelled joints become ``(0, 0)``, as COCO's are.

Head sizes (the PCKh normaliser) are not in the json: ``headbox_file`` (``mpii_gt_val.mat``,
HRNet's ``gt_valid.mat``) gives ``headboxes_src`` (2 x 2 x N, one box per json record, in
record order), and ``head_size = 0.6 * ||(x2 - x1, y2 - y1)||`` (``SC_BIAS`` of the official
evaluation).

**The original release** (``mpii_human_pose_v1_u12_1.mat``, struct ``RELEASE``):
``annolist(i).image.name``, ``annolist(i).annorect(r)`` with the head box ``x1, y1, x2, y2``,
``annopoints.point(p).{x, y, id, is_visible}``, ``scale`` and ``objpos.{x, y}``;
``img_train(i)`` (1 = training image; the test images have no joints) and
``single_person{i}`` (the rects of sufficiently separated people, the ones the single-person
benchmark and the HRNet json use). ``objpos``/``scale`` are the json's ``center``/``scale``,
so the box, centre and joint conversions above apply unchanged; ``head_size`` comes from the
rect's own head box. ``split`` picks ``img_train == 1`` (``'train'``) or ``0`` (``'test'``);
the json's train/val division (Tompson et al.'s validation people) is not in the .mat.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Iterable

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import BaseKeypointDataset, DatasetError, instance
from poseforge.datasets.coco_style import as_array
from poseforge.registry import DATASETS

#: MPII's person box unit (``scale`` is in units of 200 px).
PIXEL_STD = 200.0
#: Head size = SC_BIAS x head-box diagonal (official evaluation, ``evaluatePCKh.m``).
SC_BIAS = 0.6
NUM_JOINTS = 16
#: File name of the original annotation release.
ORIGINAL_MAT = 'mpii_human_pose_v1_u12_1.mat'
#: Where the original .mat is looked for inside a folder given as ``ann_file`` / ``data_root``.
ORIGINAL_MAT_PLACES = (ORIGINAL_MAT, f'annotations/{ORIGINAL_MAT}',
                       f'mpii_human_pose_v1_u12_2/{ORIGINAL_MAT}')
EXPECTED_LAYOUTS = (
    "either the HRNet/mmpose json list (e.g. 'annotations/mpii_train.json': a list of "
    '{image, center, scale, joints, joints_vis}) or the original release '
    f"'{ORIGINAL_MAT}' (struct RELEASE), given as ann_file or found in the folder as "
    + ' or '.join(f"'{p}'" for p in ORIGINAL_MAT_PLACES))


# --------------------------------------------------------------------------- conversions
def head_size_from_boxes(boxes_xyxy: np.ndarray) -> np.ndarray:
    """``(N, 4)`` head boxes ``x1, y1, x2, y2`` -> ``(N,)`` head sizes, 0.6 x the diagonal."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    return SC_BIAS * np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=1)


def mpii_center_scale(center: Iterable[float], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's MPII centre/scale: ``(center (2,), scale (2,) px)`` float32, 0-based.

    Computed in float32 in mmpose's order: the scale is ``float32(scale) * 200``; the centre
    moves down by ``15 / 200 * scale_px`` unless ``center[0] == -1``; then both lose 1.
    """
    center = np.array(center, dtype=np.float32).reshape(2)
    scale_px = np.array([scale, scale], dtype=np.float32) * PIXEL_STD
    if center[0] != -1:
        center[1] = center[1] + 15. / PIXEL_STD * scale_px[1]
    return center - 1, scale_px


def center_scale_to_xyxy(center: np.ndarray, scale_px: np.ndarray) -> np.ndarray:
    """mmpose ``bbox_cs2xyxy`` (padding 1): ``center -+ scale / 2``."""
    half = scale_px * 0.5
    return np.concatenate([center - half, center + half]).astype(np.float32)


def box_area(bbox_xyxy: np.ndarray) -> float:
    """mmpose's MPII ``area``: ``max(1, 0.53 * w * h)`` (float32)."""
    x1, y1, x2, y2 = np.asarray(bbox_xyxy, dtype=np.float32)
    return float(np.float32(max(np.float32(1.0), (x2 - x1) * (y2 - y1) * np.float32(0.53))))


def joints_to_schema(joints_1based: np.ndarray, labelled: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB joints ``(16, 2)`` -> 0-based keypoints (unlabelled ones at 0) and visibility."""
    visible = (np.asarray(labelled) > 0).astype(np.float32)
    shifted = np.asarray(joints_1based, dtype=np.float32).reshape(-1, 2) - 1
    return np.where(visible[:, None] > 0, shifted, np.float32(0)), visible


def image_number(name: str) -> int | None:
    """MPII images are named by a number (``005808361.jpg`` -> 5808361); mmpose's img_id."""
    stem = osp.splitext(osp.basename(name))[0]
    return int(stem) if stem.isdigit() else None


# --------------------------------------------------------------------------- .mat helpers
def as_items(value: Any) -> list:
    """A MATLAB struct array read with ``squeeze_me=True`` as a list: one struct comes back
    bare, several as an object array, none as an empty array."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def as_number(value: Any) -> float | None:
    """A MATLAB scalar as a float; ``None`` for an empty field (``[]``). Strings of digits
    (some ``is_visible`` fields of the release are ``'1'``) are read as numbers."""
    array = np.asarray(value)
    if array.size == 0:
        return None
    item = array.ravel()[0]
    if isinstance(item, (str, bytes)):
        try:
            return float(item)
        except ValueError:
            return None
    try:
        return float(item)
    except (TypeError, ValueError):
        return None


def field(struct: Any, name: str) -> Any:
    """``struct.name``, or ``None`` when the struct lacks the field or it is empty."""
    value = getattr(struct, name, None)
    if isinstance(value, np.ndarray) and value.size == 0:
        return None
    return value


@DATASETS.register_module()
class MpiiDataset(BaseKeypointDataset):
    """MPII Human Pose, 16 joints (``mpii16``), one entry per person.

    Args:
        ann_file: the json list (``*.json``), the original ``mpii_human_pose_v1_u12_1.mat``,
            or a folder holding the latter; empty: looked for in ``data_root``.
        headbox_file: json only: the ``gt_valid.mat`` / ``mpii_gt_val.mat`` with
            ``headboxes_src`` for the same records, giving ``head_size`` (relative paths are
            joined to ``data_root``).
        split: .mat only: ``'train'`` (``img_train == 1``) or ``'test'``; default ``'test'`` in
            test mode, else ``'train'``.
        single_person_only: .mat only: keep only the rects listed in ``single_person`` (the
            people the benchmark and the HRNet json use).
        data_root, data_prefix (``dict(img='images/')``), **kwargs: as mmengine
            ``BaseDataset``.
    """

    SKELETON = 'mpii16'

    def __init__(self, ann_file: str = '', headbox_file: str | None = None,
                 split: str | None = None, single_person_only: bool = True,
                 data_root: str = '', data_prefix: dict | None = None, **kwargs: Any) -> None:
        if split not in (None, 'train', 'test'):
            raise ValueError(f"MpiiDataset: split must be 'train' or 'test', got {split!r}")
        self.headbox_file = headbox_file or None
        self.split = split or ('test' if kwargs.get('test_mode', False) else 'train')
        self.single_person_only = bool(single_person_only)
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=dict(img='') if data_prefix is None else data_prefix,
                         **kwargs)

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.headbox_file and self.data_root and not osp.isabs(self.headbox_file):
            self.headbox_file = osp.join(self.data_root, self.headbox_file)

    # ------------------------------------------------------------------ dispatch
    def error(self, message: str, path: str | None = None) -> DatasetError:
        return DatasetError(f"{type(self).__name__}: '{path or self.ann_file}': {message}")

    def load_data_list(self) -> list[dict]:
        source = self.ann_file or self.data_root
        if not source:
            raise DatasetError(f'{type(self).__name__}: no ann_file or data_root given; '
                               f'expected {EXPECTED_LAYOUTS}')
        if osp.isdir(source):
            source = self._find_original_mat(source)
        if source.endswith('.json'):
            return self._load_json_list(source)
        if source.endswith('.mat'):
            if self.headbox_file:
                raise ValueError(f'{type(self).__name__}: headbox_file is for the json list; '
                                 f"'{source}' carries its own head boxes")
            return self._load_release_mat(source)
        raise self.error(f'unknown annotation format; expected {EXPECTED_LAYOUTS}', source)

    def _find_original_mat(self, folder: str) -> str:
        for place in ORIGINAL_MAT_PLACES:
            path = osp.join(folder, place)
            if osp.isfile(path):
                return path
        raise DatasetError(f"{type(self).__name__}: '{folder}' is a folder without the "
                           f'original annotations; expected {EXPECTED_LAYOUTS}')

    # ------------------------------------------------------------------ json list
    def _load_json_list(self, path: str) -> list[dict]:
        try:
            with open(path, encoding='utf-8') as f:
                records = json.load(f)
        except json.JSONDecodeError as err:
            raise self.error(f'not valid json ({err})', path) from None
        if not isinstance(records, list):
            kind = ('a COCO-style object' if isinstance(records, dict) and 'annotations'
                    in records else f'a {type(records).__name__}')
            raise self.error(f'got {kind}; expected {EXPECTED_LAYOUTS}', path)
        head_sizes = self._load_head_sizes(len(records)) if self.headbox_file else None
        img_ids: dict[str, int] = {}
        entries = []
        for index, record in enumerate(records):
            extra = {} if head_sizes is None else dict(head_size=float(head_sizes[index]))
            entries.append(self._parse_json_record(path, index, record, img_ids, extra))
        return entries

    def _parse_json_record(self, path: str, index: int, record: Any,
                           img_ids: dict[str, int], extra: dict) -> dict:
        def fail(message: str) -> DatasetError:
            name = record.get('image') if isinstance(record, dict) else None
            return self.error(f'record #{index} (image {name!r}): {message}', path)

        if not isinstance(record, dict):
            raise fail('not an object')
        for key in ('image', 'center', 'scale', 'joints', 'joints_vis'):
            if key not in record:
                raise fail(f"missing '{key}'")
        center = as_array(record['center'], (2,), 'center', fail)
        scale = as_array(record['scale'], (1,), 'scale', fail)[0]
        joints = as_array(record['joints'], (NUM_JOINTS, 2), 'joints', fail)
        labelled = as_array(record['joints_vis'], (NUM_JOINTS,), 'joints_vis', fail)
        if not scale > 0:
            raise fail(f'scale must be positive, got {scale}')
        return self._entry(str(record['image']), index, center, scale, joints, labelled,
                           img_ids, extra)

    def _entry(self, image: str, inst_id: int, center: np.ndarray, scale: float,
               joints: np.ndarray, labelled: np.ndarray, img_ids: dict[str, int],
               extra: dict) -> dict:
        """One schema entry from MATLAB-coordinate centre/scale/joints (both readers)."""
        center0, scale_px = mpii_center_scale(center, scale)
        bbox = center_scale_to_xyxy(center0, scale_px)
        keypoints, visible = joints_to_schema(joints, labelled)
        img_id = image_number(image)
        if img_id is None:  # not an MPII name: number the images in order of appearance
            img_id = img_ids.setdefault(image, len(img_ids))
        return instance(osp.join(self.data_prefix.get('img', ''), image), img_id, inst_id,
                        bbox, keypoints, visible, area=box_area(bbox), category_id=1, **extra)

    def _load_head_sizes(self, num_records: int) -> np.ndarray:
        """``head_size`` per json record from ``headboxes_src`` (2 x 2 x N) of the gt .mat."""
        path = self.require_file(self.headbox_file, 'head box file (headbox_file)')
        from scipy.io import loadmat  # scipy is only needed for .mat files
        try:
            boxes = loadmat(path).get('headboxes_src')
        except (ValueError, NotImplementedError, OSError, TypeError) as err:
            raise self.error(f'cannot read it as a MATLAB file ({err})', path) from None
        if boxes is None or np.ndim(boxes) != 3 or np.shape(boxes)[:2] != (2, 2):
            raise self.error("expected the MPII evaluation file (gt_valid.mat / "
                             "mpii_gt_val.mat) with 'headboxes_src' of shape 2 x 2 x N", path)
        boxes = np.transpose(np.asarray(boxes, dtype=np.float64), (2, 0, 1))  # (N, corner, xy)
        if len(boxes) != num_records:
            raise self.error(f'has {len(boxes)} head boxes but the annotation file '
                             f"'{self.ann_file}' has {num_records} records; they must match "
                             'one to one (the validation json goes with this file)', path)
        return head_size_from_boxes(boxes.reshape(-1, 4))

    # ------------------------------------------------------------------ original .mat
    def _load_release_mat(self, path: str) -> list[dict]:
        release = self._read_release(path)
        annolist = as_items(field(release, 'annolist'))
        img_train = np.atleast_1d(np.asarray(field(release, 'img_train'))).ravel()
        single = as_items(field(release, 'single_person'))
        if len(img_train) != len(annolist) or (self.single_person_only
                                               and len(single) != len(annolist)):
            raise self.error(f'RELEASE has {len(annolist)} annolist entries, {len(img_train)} '
                             f'img_train flags and {len(single)} single_person entries; '
                             'they must have one per image', path)
        want = 1 if self.split == 'train' else 0
        entries: list[dict] = []
        img_ids: dict[str, int] = {}
        skipped = dict(multi_person=0, no_position=0, no_joints=0)
        for i in np.flatnonzero(img_train.astype(np.int64) == want):
            singles = _rect_numbers(single[i]) if self.single_person_only else None
            self._image_entries(path, int(i), annolist[i], singles, img_ids, entries, skipped)
        dropped = ', '.join(f'{n} {why.replace("_", " ")}' for why, n in skipped.items() if n)
        print_log(f"{type(self).__name__}: {len(entries)} people of the '{self.split}' images "
                  f"of '{path}'" + (f' (skipped: {dropped})' if dropped else ''),
                  logger='current')
        return entries

    def _read_release(self, path: str) -> Any:
        from scipy.io import loadmat  # scipy is only needed for .mat files
        try:
            mat = loadmat(path, squeeze_me=True, struct_as_record=False)
        except (ValueError, NotImplementedError, OSError, TypeError) as err:
            raise self.error(f'cannot read it as a MATLAB file ({err})', path) from None
        release = mat.get('RELEASE')
        if release is None or field(release, 'annolist') is None:
            found = sorted(k for k in mat if not k.startswith('__'))
            raise self.error(f"no struct 'RELEASE' with an 'annolist' (found {found}); "
                             f'expected {EXPECTED_LAYOUTS}', path)
        return release

    def _image_entries(self, path: str, i: int, image: Any, singles: set[int] | None,
                       img_ids: dict[str, int], entries: list, skipped: dict) -> None:
        """Append the entries of ``annolist(i + 1)`` (MATLAB numbering in messages)."""
        name = field(field(image, 'image'), 'name')
        if not isinstance(name, str):
            raise self.error(f'annolist({i + 1}).image.name is missing', path)
        for r, rect in enumerate(as_items(field(image, 'annorect')), start=1):
            where = f'annolist({i + 1}).annorect({r}) ({name})'
            if singles is not None and r not in singles:
                skipped['multi_person'] += 1
                continue
            objpos = field(rect, 'objpos')
            center = [as_number(field(objpos, 'x')), as_number(field(objpos, 'y'))]
            scale = as_number(field(rect, 'scale'))
            if None in center or scale is None or not scale > 0:
                skipped['no_position'] += 1
                continue
            joints, labelled = self._rect_joints(path, where, rect)
            if self.split == 'train' and not labelled.any():
                skipped['no_joints'] += 1
                continue
            extra = {}
            head_box = [as_number(field(rect, k)) for k in ('x1', 'y1', 'x2', 'y2')]
            if None not in head_box:
                extra['head_size'] = float(head_size_from_boxes(np.array(head_box))[0])
            entries.append(self._entry(name, len(entries), np.array(center), scale, joints,
                                       labelled, img_ids, extra))

    def _rect_joints(self, path: str, where: str, rect: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(16, 2)`` MATLAB joints and ``(16,)`` labelled flags of one rect."""
        joints = np.zeros((NUM_JOINTS, 2), dtype=np.float64)
        labelled = np.zeros(NUM_JOINTS, dtype=np.float32)
        for point in as_items(field(field(rect, 'annopoints'), 'point')):
            joint_id = as_number(field(point, 'id'))
            xy = (as_number(field(point, 'x')), as_number(field(point, 'y')))
            if joint_id is None or None in xy:
                continue
            if joint_id != int(joint_id) or not 0 <= joint_id < NUM_JOINTS:
                raise self.error(f'{where}: joint id {joint_id} is not in 0..{NUM_JOINTS - 1}',
                                 path)
            joints[int(joint_id)] = xy
            labelled[int(joint_id)] = 1
        return joints, labelled


def _rect_numbers(value: Any) -> set[int]:
    """``single_person{i}``: 1-based rect numbers (a scalar, a vector or empty)."""
    array = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    return {int(v) for v in array if np.isfinite(v)}


__all__ = ['MpiiDataset', 'head_size_from_boxes', 'mpii_center_scale', 'center_scale_to_xyxy',
           'joints_to_schema', 'ORIGINAL_MAT', 'SC_BIAS', 'PIXEL_STD']
