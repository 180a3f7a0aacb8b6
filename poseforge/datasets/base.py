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
the dataset named, and so does an annotation file with no instance in it (nothing could train
or evaluate on it). During training a sample whose image cannot be read is skipped (another
index is drawn) and counted in :attr:`skipped`, with a warning naming the file; when the first
:data:`UNREADABLE_LIMIT` images tried in a process all fail, the image folder is wrong and a
:class:`DatasetError` names it (instead of mmengine's thousand warnings and a traceback). In
test mode an unreadable image raises :class:`ImageReadError` naming the file, because an
evaluation that silently drops samples would report a wrong number.

Reproducibility: once :meth:`BaseKeypointDataset.set_sample_seed` has been called (the training
runner does it every epoch), the pipeline of sample ``i`` in epoch ``e`` runs with the global
RNGs seeded from ``(seed, e, i)``: its augmentation is the same whatever worker loads it, and
after a resume (:mod:`poseforge.engine.reproducibility`).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os.path as osp
from multiprocessing import sharedctypes
from typing import Any

import numpy as np
import torch.utils.data
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from poseforge.skeletons import get_skeleton
from poseforge.utils.seeding import seeded

#: Images that may fail in a row, with none read yet, before the image folder is called wrong.
UNREADABLE_LIMIT = 10
#: Entropy word that keeps per-sample seeds apart from the per-epoch and per-worker ones.
_SAMPLE_STREAM = 0x53414D50


class DatasetError(ValueError):
    """A dataset file is missing, malformed or laid out unexpectedly."""


class ImageReadError(DatasetError):
    """An image of the dataset cannot be read (missing, empty, truncated or corrupt)."""


class SampleSeed:
    """``(seed, epoch)`` for per-sample seeding, in shared memory: the training process sets it
    before each epoch and dataloader workers (persistent ones included, forked or spawned)
    read the current value.

    Copies (``copy.deepcopy``, pickling outside a process start) get their own memory with the
    same value.
    """

    def __init__(self, seed: int | None = None, epoch: int = 0) -> None:
        self._shared = sharedctypes.RawArray('q', 3)  # set?, seed, epoch
        if seed is not None:
            self.set(seed, epoch)

    def set(self, seed: int, epoch: int) -> None:
        self._shared[1], self._shared[2], self._shared[0] = int(seed) & 0xFFFFFFFF, epoch, 1

    @property
    def epoch(self) -> int:
        return int(self._shared[2])

    def entropy(self, idx: int) -> list[int] | None:
        """The sample's seed words, or ``None`` when no seed has been set."""
        if not self._shared[0]:
            return None
        return [_SAMPLE_STREAM, int(self._shared[1]), int(self._shared[2]), int(idx)]

    def __reduce__(self):
        if multiprocessing.context.get_spawning_popen() is not None:  # starting a worker
            return _shared_seed, (self._shared,)
        return _copied_seed, (tuple(self._shared),)

    def __deepcopy__(self, memo: dict) -> 'SampleSeed':
        return _copied_seed(tuple(self._shared))


def _shared_seed(shared) -> SampleSeed:
    seed = SampleSeed.__new__(SampleSeed)
    seed._shared = shared
    return seed


def _copied_seed(values: tuple) -> SampleSeed:
    seed = SampleSeed()
    seed._shared[:] = list(values)
    return seed


class BaseKeypointDataset(BaseDataset):
    """mmengine ``BaseDataset`` for top-down keypoint data (one entry per instance).

    Subclasses set ``SKELETON`` (a name from :mod:`poseforge.skeletons`) and implement
    :meth:`load_data_list` returning dicts of the schema above.
    """

    SKELETON: str = 'hand21'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.skipped: int = 0
        self._read: int = 0
        self._replacement: int | None = None
        self._sample_seed = SampleSeed()
        kwargs.setdefault('metainfo', None)
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ seeding
    def set_sample_seed(self, seed: int, epoch: int) -> None:
        """Seed every sample's pipeline from ``(seed, epoch, index)`` from now on."""
        self._sample_seed.set(seed, epoch)

    @property
    def epoch(self) -> int:
        """The epoch of :meth:`set_sample_seed` (0 before it is called)."""
        return self._sample_seed.epoch

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

    def filter_data(self) -> list[dict]:
        """mmengine's filtering, then a refusal of an empty dataset (before mmengine's
        serialisation fails on it with a bare numpy error)."""
        data_list = super().filter_data()
        if not data_list:
            source = f"'{self.ann_file}'" if self.ann_file else 'its annotations'
            dropped = getattr(self, 'drop_reason', None)
            why = f'0 annotations, or all dropped ({dropped()})' if dropped else '0 annotations'
            raise DatasetError(f'{type(self).__name__}: no instance to train or evaluate on in '
                               f'{source} ({why}); check ann_file and the split')
        return data_list

    # ------------------------------------------------------------------ access
    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        # ``self._metainfo``, not mmengine's ``metainfo`` property: that deep-copies the whole
        # metainfo (names, colours, skeleton: ~300 objects) on every access, a tenth of the
        # data path's time per sample. The flip indices are copied alone.
        info['flip_indices'] = list(self._metainfo['flip_indices'])
        return info

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on instance ``idx`` (seeded per sample once a seed is set); skip
        (train) or raise (test) on an unreadable image."""
        info = self.get_data_info(idx)
        entropy = self._sample_seed.entropy(idx)
        restore = entropy is not None and torch.utils.data.get_worker_info() is None
        with seeded(entropy, restore=restore) if entropy is not None else _NO_SEED:
            try:
                data = self.pipeline(info)
            except (OSError, ValueError) as err:
                if self.test_mode:
                    if isinstance(err, OSError):
                        raise ImageReadError(f'{type(self).__name__}: {err}') from err
                    raise
                self._skip(idx, info, err)
                # Drawn under this sample's seed, so a resumed run draws the same replacement;
                # never the sample itself (under a seed it would draw itself again and again).
                self._replacement = other_index(idx, len(self))
                return None
        self._read += 1
        return data

    def _skip(self, idx: int, info: dict, err: Exception) -> None:
        self.skipped += 1
        path = info.get('img_path')
        if self._read == 0 and self.skipped >= UNREADABLE_LIMIT:
            folder = self.data_prefix.get('img') or osp.dirname(str(path))
            raise DatasetError(
                f'{type(self).__name__}: none of the {self.skipped} images tried could be read '
                f"(e.g. '{path}': {err}); images are looked for in '{folder or '.'}' "
                '(data_root + data_prefix.img): check both')
        print_log(f"{type(self).__name__}: skipped sample {idx} ('{path}'): {err} "
                  f'[{self.skipped} skipped so far]', logger='current', level=30)

    def _rand_another(self) -> int:
        replacement, self._replacement = self._replacement, None
        return super()._rand_another() if replacement is None else replacement


#: The context of an unseeded sample (``seeded(None)`` without a generator per sample).
_NO_SEED = contextlib.nullcontext()


def other_index(idx: int, size: int) -> int:
    """A uniformly drawn index of ``range(size)`` other than ``idx`` (``idx`` when it is the
    only one), from ``np.random``'s current state."""
    if size <= 1:
        return idx
    drawn = int(np.random.randint(0, size - 1))
    return drawn + 1 if drawn >= idx else drawn


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
