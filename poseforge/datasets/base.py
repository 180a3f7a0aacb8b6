"""The base class every keypoint dataset derives from, and the per-instance schema.

Top-down pose estimation works per *instance* (one person or one hand with its box), so a
dataset's ``data_list`` holds one entry per instance. Every loader fills this schema, whatever
its file format (documented here once; ``docs/data_schema.md`` points here):

================== ================ =========================================================
key                type / shape     meaning
================== ================ =========================================================
img_path           str              image file
img_id             int              image id (instances of one image share it)
id                 int              instance id, unique in the dataset
bbox               float32 (4,)     box, ``x1, y1, x2, y2`` in image pixels
bbox_score         float            1.0 for ground-truth boxes, the detector's score otherwise
keypoints          float32 (K, 2)   ``x, y`` in image pixels, in the skeleton's order
keypoints_visible  float32 (K,)     1 where the keypoint is labelled (COCO v>0), else 0
keypoints_3d       float32 (K, 3)   optional: millimetres, camera frame
keypoints_3d_world float32 (K, 3)   optional: millimetres, world frame
K                  float32 (3, 3)   optional: camera intrinsics (``dist`` for distortion)
R, t               float32          optional: world -> camera rotation (3, 3), translation (3,)
head_size          float            optional: PCKh normaliser (MPII, CMU Panoptic)
hand_side          str              optional: ``'left'`` / ``'right'``
view_id, sequence_id, frame_id      optional: multi-view and temporal ids
depth_path         str              optional: the view's depth map (16-bit PNG, mm)
mask_path          str              optional: the view's hand mask
================== ================ =========================================================

``get_data_info`` adds ``flip_indices`` (from the skeleton) and ``sample_idx`` so the pipeline
needs nothing else.

Robustness: a missing ``data_root`` or annotation file fails at construction with the path and
the dataset named. During training a sample whose image cannot be read is skipped (mmengine then
draws another index) and counted in :attr:`skipped`, with a warning naming the file; in test mode
it raises, because an evaluation that silently drops samples would report a wrong number.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from poseforge.skeletons import get_skeleton


class DatasetError(ValueError):
    """A dataset file is missing, malformed or laid out unexpectedly."""


class BaseKeypointDataset(BaseDataset):
    """mmengine ``BaseDataset`` for top-down keypoint data (one entry per instance).

    Subclasses set ``SKELETON`` (a name from :mod:`poseforge.skeletons`) and implement
    :meth:`load_data_list` returning dicts of the schema above.
    """

    SKELETON: str = 'hand21'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.skipped: int = 0
        kwargs.setdefault('metainfo', None)
        super().__init__(*args, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: dict | None = None) -> dict:
        meta = get_skeleton(cls.SKELETON).metainfo()
        meta['dataset'] = cls.__name__
        if metainfo:
            meta.update(metainfo)
        return meta

    # ------------------------------------------------------------------ checks
    def require_file(self, path: str, what: str = 'annotation file') -> str:
        """``path`` if it exists, else a :class:`FileNotFoundError` naming dataset and file."""
        if not osp.exists(path):
            root = f" (data_root='{self.data_root}')" if self.data_root else ''
            raise FileNotFoundError(
                f"{type(self).__name__}: {what} not found: '{path}'{root}. "
                'See datasets/README.md for where to get it and how to lay it out.')
        return path

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if self.data_root and not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f"{type(self).__name__}: data_root '{self.data_root}' does not exist. "
                'See datasets/README.md for where to get it and how to lay it out.')
        if self.ann_file:
            self.require_file(self.ann_file)
        super().full_init()

    # ------------------------------------------------------------------ access
    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        # ``self._metainfo``, not mmengine's ``metainfo`` property: that deep-copies the whole
        # metainfo (names, colours, skeleton: ~300 objects) on every access, a tenth of the
        # data path's time per sample. The flip indices are copied alone.
        info['flip_indices'] = list(self._metainfo['flip_indices'])
        return info

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on instance ``idx``; skip (train) or raise (test) on a bad sample."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except (OSError, ValueError) as err:
            if self.test_mode:
                raise
            self.skipped += 1
            print_log(f"{type(self).__name__}: skipped sample {idx} "
                      f"('{info.get('img_path')}'): {err} [{self.skipped} skipped so far]",
                      logger='current', level=30)
            return None


def instance(img_path: str, img_id: int, inst_id: int, bbox_xyxy, keypoints,
             keypoints_visible, **extra: Any) -> dict:
    """One schema entry, with the dtypes and shapes fixed (loaders call this)."""
    info = dict(
        img_path=img_path, img_id=int(img_id), id=int(inst_id),
        bbox=np.asarray(bbox_xyxy, dtype=np.float32).reshape(4),
        bbox_score=float(extra.pop('bbox_score', 1.0)),
        keypoints=np.asarray(keypoints, dtype=np.float32).reshape(-1, 2),
        keypoints_visible=np.asarray(keypoints_visible, dtype=np.float32).reshape(-1))
    for key in ('keypoints_3d', 'K', 'R', 't', 'dist'):
        if key in extra and extra[key] is not None:
            extra[key] = np.asarray(extra[key], dtype=np.float32)
    info.update(extra)
    return info


def bbox_xywh_to_xyxy(bbox) -> np.ndarray:
    """COCO ``[x, y, w, h]`` to ``[x1, y1, x2, y2]``."""
    x, y, w, h = np.asarray(bbox, dtype=np.float32).reshape(4)
    return np.array([x, y, x + w, y + h], dtype=np.float32)
