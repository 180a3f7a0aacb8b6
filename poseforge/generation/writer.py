"""COCO-style files for the synthetic hands: images on disk and one annotation json per split.

Layout under the output directory ``DIR``::

    DIR/images/<split>/<sample:06d>_v<view>.jpg     RGB (JPEG q95 by default, or PNG)
    DIR/depth/<split>/<sample:06d>_v<view>.png      optional: uint16 depth in mm, 0 = no surface
    DIR/masks/<split>/<sample:06d>_v<view>.png      optional: uint8 hand mask (255 = hand)
    DIR/annotations/<split>.json

``file_name`` is relative to the split's image folder ``DIR/images/<split>/`` (COCO style:
``000012_v3.jpg``), so a loader takes ``data_prefix=dict(img='images/<split>/')``;
``depth_file`` and ``mask_file``, when present, are relative to ``DIR/depth/<split>/`` and
``DIR/masks/<split>/``.

Per image: ``id, file_name, width, height, K`` (3x3), ``R`` (3x3, world -> camera), ``t`` (3,),
``view_id, sample_id, hand_side``. Per annotation (one hand per image, ``id == image_id``):
``bbox`` ``[x, y, w, h]`` in pixels, ``area`` (hand mask pixels), ``num_keypoints``, ``keypoints``
(63 numbers: ``x, y, v`` per joint; ``v`` 2 visible, 1 occluded, 0 outside the image) and
``keypoints_3d`` (63 numbers: ``X, Y, Z`` per joint, mm, camera frame). Pixel coordinates put
pixel centres on integers (``keypoints == project(K, keypoints_3d)`` exactly). The world frame
is the sample's own (hand-centred), shared by its views: ``R^T (X_cam - t)`` agrees across views.

Version 2 adds, per image, ``sequence_id`` and ``frame_id`` (``sample_id`` is one frame of one
sequence), ``depth_file`` / ``mask_file`` and, for distorting rigs, ``dist`` (OpenCV's
``k1, k2, p1, p2, k3``; then ``keypoints == cv2.projectPoints(keypoints_3d, 0, 0, K, dist)``);
per annotation ``keypoints_3d_world`` (63 numbers, the world frame of the sequence).

Every file is written atomically (:mod:`poseforge.utils.fileio`: a hidden temporary, then a
rename), so an interrupted run never leaves a truncated image under its final name;
``shards/<unit>.json`` records one finished sequence (its json records) and is written last,
which is what makes a run resumable (:mod:`poseforge.generation.synth_hands`).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Sequence

import cv2
import numpy as np

from poseforge.skeletons import HAND21
from poseforge.utils.fileio import atomic_write_bytes, remove_stale_temporaries

CATEGORY_ID = 1
VISIBLE, OCCLUDED, OUTSIDE = 2, 1, 0


def categories() -> list[dict]:
    """The single COCO category, with the ``hand21`` keypoint names and 1-based skeleton."""
    return [dict(id=CATEGORY_ID, name='hand', supercategory='hand',
                 keypoints=list(HAND21.keypoint_names),
                 skeleton=[[a + 1, b + 1] for a, b in HAND21.limbs])]


def image_record(image_id: int, file_name: str, width: int, height: int, K: np.ndarray,
                 R: np.ndarray, t: np.ndarray, view_id: int, sample_id: int, hand_side: str,
                 **extra: Any) -> dict:
    """One ``images`` entry (``extra``: optional ``depth_file`` / ``mask_file``)."""
    record = dict(id=int(image_id), file_name=file_name, width=int(width), height=int(height),
                  K=np.asarray(K, dtype=np.float64).tolist(),
                  R=np.asarray(R, dtype=np.float64).tolist(),
                  t=np.asarray(t, dtype=np.float64).reshape(3).tolist(),
                  view_id=int(view_id), sample_id=int(sample_id), hand_side=hand_side)
    record.update(extra)
    return record


def annotation_record(image_id: int, bbox_xywh: Sequence[float], area: float,
                      keypoints_2d: np.ndarray, visibility: np.ndarray,
                      keypoints_3d: np.ndarray, keypoints_3d_world: np.ndarray | None = None
                      ) -> dict:
    """One ``annotations`` entry for the hand in image ``image_id``."""
    keypoints = np.concatenate([np.asarray(keypoints_2d, dtype=np.float64).reshape(-1, 2),
                                np.asarray(visibility, dtype=np.float64).reshape(-1, 1)], 1)
    flat = keypoints.reshape(-1).tolist()
    flat[2::3] = [int(v) for v in flat[2::3]]
    return dict(id=int(image_id), image_id=int(image_id), category_id=CATEGORY_ID,
                bbox=[float(v) for v in bbox_xywh], area=float(area), iscrowd=0,
                num_keypoints=int(np.count_nonzero(np.asarray(visibility) > 0)),
                keypoints=flat,
                keypoints_3d=np.asarray(keypoints_3d, dtype=np.float64).reshape(-1).tolist(),
                **({} if keypoints_3d_world is None else dict(
                    keypoints_3d_world=np.asarray(keypoints_3d_world, dtype=np.float64)
                    .reshape(-1).tolist())))


def write_coco(path: str, images: list[dict], annotations: list[dict], info: dict) -> str:
    """Write one split's json (deterministic: no timestamps, stable key order)."""
    data = dict(info=info, images=images, annotations=annotations, categories=categories())
    write_json(path, data)
    return path


#: Temporaries of the first generator versions (``<name>.partial``); still cleared on resume.
LEGACY_PARTIAL = '.partial'


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`poseforge.utils.fileio.atomic_write_bytes`;
    not fsync-ed: the files are re-created by re-running, see the module docstring)."""
    atomic_write_bytes(data, path, durable=False)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode('utf-8'))


def write_json(path: str, data: Any) -> None:
    write_text(path, json.dumps(data, separators=(',', ':')))


def remove_partials(root: str) -> int:
    """Delete the temporaries an interrupted run left anywhere under ``root``; how many."""
    return len(remove_stale_temporaries(root, recursive=True, extra_suffixes=(LEGACY_PARTIAL,)))


def save_rgb(path: str, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB uint8 image; JPEG or PNG by the extension (fast cv2 encoders)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if path.endswith('.jpg') else [
        cv2.IMWRITE_PNG_COMPRESSION, 1]
    _write(path, rgb[..., ::-1], params)


def save_png(path: str, image: np.ndarray) -> None:
    """Write a single-channel uint8/uint16 image losslessly (depth, masks)."""
    _write(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def _write(path: str, image: np.ndarray, params: list[int]) -> None:
    ok, data = cv2.imencode(osp.splitext(path)[1], np.ascontiguousarray(image), params)
    if not ok:
        raise OSError(f"could not encode image '{path}'")
    write_bytes(path, data.tobytes())
