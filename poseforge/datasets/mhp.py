"""``MhpDataset``: the Large-scale Multiview 3D Hand Pose Dataset (Gomez-Donoso et al.), read
from its original release layout.

The format (layout, joint lines and their map to ``hand21``, cameras, wrist and box rules, the
file readers) is :mod:`poseforge.formats.mhp`, shared with the generator's MHP writer. Read
under ``data_root``: ``annotated_frames/data_N/{f}_webcam_{1..4}.jpg`` and ``{f}_joints.txt``,
``calibrations/data_N/webcam_{k}/{rvec,tvec}.pkl``.

``projections_2d/`` and ``bounding_boxes/`` (written by the dataset's utility scripts, missing
from some copies) are never read: the loader computes both, and reproduces the dataset's own
files (the projections to floating-point precision, the integer boxes exactly; see
``tests/test_dataset_mhp.py``, which checks it against the real fixture frame).

One schema entry (:mod:`poseforge.datasets.base`) per (frame, view): ``keypoints`` are the 21
joints projected with the webcams' lens distortion (``cv2.projectPoints``), ``keypoints_3d`` the
same joints in that camera's frame (mm), ``K``/``dist``/``R``/``t`` its calibration
(``X_cam = R X_world + t``), ``view_id`` = webcam number - 1, ``sequence_id`` (``'data_N'``),
``frame_id`` (``f``) and ``bbox`` (the dataset's rule,
:func:`~poseforge.formats.mhp.padded_keypoint_bbox`). MHP has no visibility labels: every joint
is labelled, ``keypoints_visible`` is 1.

Joint 0: ``root='palm'`` keeps Leap Motion's ``PALM_POSITION``, the palm centre, which is not the
wrist (``dataset.metainfo`` then names joint 0 ``palm``); ``root='wrist'`` derives a wrist with
:func:`~poseforge.formats.mhp.palm_to_wrist` (shared with STB). The 22nd line,
``PALM_NORMAL``, is a direction and is not used.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from poseforge.datasets.base import BaseKeypointDataset, DatasetError, instance
from poseforge.datasets.hand_conversions import check_root, rodrigues, root_metainfo
from poseforge.formats.mhp import (MHP_DIST, MHP_K, MHP_FILE_LAYOUT, MHP_TO_CANONICAL, MHP_WEBCAMS,
                                   WRIST_ANCHOR, WRIST_FACTOR, MhpFormatError,
                                   padded_keypoint_bbox, palm_to_wrist, read_calibration,
                                   read_joints_file)
from poseforge.registry import DATASETS

__all__ = ['MhpDataset', 'project_with_distortion']

_JOINTS_FILE = re.compile(r'^(\d+)_joints\.txt$')


def _read(reader: Callable, *args: Any) -> Any:
    """Run a :mod:`poseforge.formats.mhp` reader; its format errors become ``DatasetError``."""
    try:
        return reader(*args)
    except MhpFormatError as err:
        raise DatasetError(f'MhpDataset: {err}') from None


def _natural_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r'(\d+)', name))


# --------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class MhpDataset(BaseKeypointDataset):
    """MHP (Gomez-Donoso et al.), 21 keypoints (``hand21``), one instance per (frame, view).

    Args:
        data_root: the MHP root (holding ``annotated_frames/`` and ``calibrations/``).
        split: ``'train'`` (``data_3`` .. ``data_21``) or ``'val'`` (``data_1``, ``data_2``):
            the split of DGGAN's code. Leave it ``None`` to give ``sequences`` instead.
        sequences: sequence folder names (``'data_1'``, ...). With neither ``split`` nor
            ``sequences``, every ``data_*`` folder in ``annotated_frames/`` is read.
        views: webcam numbers to read (1..4).
        root: ``'palm'`` (joint 0 = the palm centre, as labelled) or ``'wrist'`` (derived).
        wrist_anchor, wrist_factor: the palm -> wrist rule (see
            :mod:`poseforge.formats.mhp`); used when ``root='wrist'``.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    SPLITS: dict[str, tuple[str, ...]] = {
        'train': tuple(f'data_{i}' for i in range(3, 22)),
        'val': ('data_1', 'data_2'),
    }

    def __init__(self, data_root: str = '', split: str | None = None,
                 sequences: Sequence[str] | None = None, views: Sequence[int] = MHP_WEBCAMS,
                 root: str = 'palm', wrist_anchor: str = WRIST_ANCHOR,
                 wrist_factor: float = WRIST_FACTOR, **kwargs: Any) -> None:
        name = type(self).__name__
        if split is not None and sequences is not None:
            raise ValueError(f'{name}: give split or sequences, not both')
        if split is not None and split not in self.SPLITS:
            raise ValueError(f'{name}: split must be one of {sorted(self.SPLITS)}, got {split!r}')
        bad_views = [v for v in views if v not in MHP_WEBCAMS]
        if bad_views or not views:
            raise ValueError(f'{name}: views must be webcam numbers among {MHP_WEBCAMS}, '
                             f'got {tuple(views)}')
        self.split = split
        self.sequences = None if sequences is None else [str(s) for s in sequences]
        self.views = tuple(int(v) for v in views)
        self.root = check_root(root, name)
        self.wrist_anchor = wrist_anchor
        self.wrist_factor = float(wrist_factor)
        if root == 'wrist':  # fail now on a bad anchor, not after reading every file
            palm_to_wrist(np.zeros((21, 3)), wrist_anchor, wrist_factor)
        metainfo = root_metainfo(root)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    # ------------------------------------------------------------------ layout
    def _frames_root(self) -> str:
        return osp.join(self.data_root, 'annotated_frames')

    def _check_layout(self) -> None:
        missing = [d for d in ('annotated_frames', 'calibrations')
                   if not osp.isdir(osp.join(self.data_root, d))]
        if not missing:
            return
        hint = ''
        entries = os.listdir(self.data_root) if osp.isdir(self.data_root) else []
        if any(_JOINTS_FILE.match(e) for e in entries) or any(e.startswith('data_')
                                                              for e in entries):
            hint = (' data_root looks like a folder inside the dataset; point it at the MHP '
                    'root that holds annotated_frames/ and calibrations/.')
        raise DatasetError(
            f"{type(self).__name__}: '{self.data_root}' is not laid out as expected: missing "
            f"{', '.join(m + '/' for m in missing)}. Expected the original MHP layout under "
            f'data_root: {MHP_FILE_LAYOUT}.{hint}')

    def _sequence_names(self) -> list[str]:
        if self.sequences is not None:
            return list(self.sequences)
        if self.split is not None:
            return list(self.SPLITS[self.split])
        found = sorted((d for d in os.listdir(self._frames_root())
                        if d.startswith('data_') and osp.isdir(osp.join(self._frames_root(), d))),
                       key=_natural_key)
        if not found:
            raise DatasetError(f"{type(self).__name__}: no data_N folders in "
                               f"'{self._frames_root()}' (expected layout: {MHP_FILE_LAYOUT})")
        return found

    def _frame_ids(self, folder: str) -> list[int]:
        ids = sorted(int(m.group(1)) for m in map(_JOINTS_FILE.match, os.listdir(folder)) if m)
        if not ids:
            raise DatasetError(f"{type(self).__name__}: no {{f}}_joints.txt files in "
                               f"'{folder}' (expected layout: {MHP_FILE_LAYOUT})")
        return ids

    def _camera(self, sequence: str, view: int) -> tuple[np.ndarray, np.ndarray]:
        """``rvec (3,)`` and ``tvec (3,)`` of ``webcam_{view}`` (world -> camera)."""
        folder = osp.join(self.data_root, 'calibrations', sequence, f'webcam_{view}')
        return _read(read_calibration, folder)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        self._check_layout()
        entries: list[dict] = []
        for sequence in self._sequence_names():
            entries.extend(self._load_sequence(sequence, first_id=len(entries)))
        return entries

    def _load_sequence(self, sequence: str, first_id: int) -> list[dict]:
        folder = self.require_file(osp.join(self._frames_root(), sequence), 'sequence folder')
        frames = self._frame_ids(folder)
        world = np.stack([_read(read_joints_file, osp.join(folder, f'{f}_joints.txt'))
                          for f in frames])[:, MHP_TO_CANONICAL]  # (F, 21, 3), palm at 0
        joints = (palm_to_wrist(world, self.wrist_anchor, self.wrist_factor)
                  if self.root == 'wrist' else world)
        per_view = [self._view_labels(world, joints, *self._camera(sequence, v))
                    for v in self.views]
        entries = []
        for i, frame in enumerate(frames):
            for view, (keypoints, keypoints_3d, boxes, R, t) in zip(self.views, per_view):
                index = first_id + len(entries)
                entries.append(instance(
                    osp.join(folder, f'{frame}_webcam_{view}.jpg'), index, index, boxes[i],
                    keypoints[i], np.ones(len(keypoints[i]), np.float32),
                    keypoints_3d=keypoints_3d[i], K=MHP_K, dist=MHP_DIST, R=R, t=t,
                    view_id=view - 1, sequence_id=sequence, frame_id=frame))
        return entries

    def _view_labels(self, labelled: np.ndarray, joints: np.ndarray, rvec: np.ndarray,
                     tvec: np.ndarray) -> tuple[np.ndarray, ...]:
        """All frames of one webcam at once: 2D keypoints (F, 21, 2), camera-frame joints
        (F, 21, 3), boxes (F, 4), R (3, 3), t (3,).

        ``labelled`` are the dataset's 21 points (palm at 0), ``joints`` the ones returned
        (the same, or with the derived wrist at 0). The box follows the dataset's rule on the
        labelled points; with a derived wrist its extent also covers the wrist.
        """
        R = rodrigues(rvec)
        keypoints = project_with_distortion(joints, rvec, tvec)
        keypoints_3d = joints @ R.T + tvec
        mean_depth = (labelled @ R.T + tvec)[..., 2].mean(axis=1)
        extent = keypoints
        if self.root == 'wrist':
            extent = np.concatenate([keypoints, project_with_distortion(labelled[:, :1], rvec,
                                                                        tvec)], axis=1)
        return keypoints, keypoints_3d, padded_keypoint_bbox(extent, mean_depth), R, tvec


def project_with_distortion(points: np.ndarray, rvec: np.ndarray, tvec: np.ndarray
                            ) -> np.ndarray:
    """World points ``(..., 3)`` -> webcam pixels ``(..., 2)``: ``cv2.projectPoints`` with
    MHP's intrinsics and distortion, as the dataset's ``projections_2d`` were made."""
    points = np.asarray(points, dtype=np.float64)
    if points.size == 0:
        return np.zeros(points.shape[:-1] + (2,))
    uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), rvec.reshape(3, 1), tvec.reshape(3, 1),
                              MHP_K, MHP_DIST)
    return uv.reshape(points.shape[:-1] + (2,))
