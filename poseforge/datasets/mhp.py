"""``MhpDataset``: the Large-scale Multiview 3D Hand Pose Dataset (Gomez-Donoso et al.), read
from its original release layout.

Layout under ``data_root`` (``docs/datasets.md``, MHP)::

    annotated_frames/data_N/{f}_webcam_{1..4}.jpg      640x480
    annotated_frames/data_N/{f}_joints.txt             22 lines "NAME x y z", Leap Motion world, mm
    calibrations/data_N/webcam_{k}/{rvec,tvec}.pkl     Python-2 pickles, (3, 1) float64

``projections_2d/`` and ``bounding_boxes/`` (written by the dataset's utility scripts, missing
from some copies) are never read: the loader computes both, and reproduces the dataset's own
files (the projections to floating-point precision, the integer boxes exactly; see
``tests/test_dataset_mhp.py``, which checks it against the real fixture frame).

One schema entry (:mod:`poseforge.datasets.base`) per (frame, view): ``keypoints`` are the 21
joints projected with the webcams' lens distortion (``cv2.projectPoints``), ``keypoints_3d`` the
same joints in that camera's frame (mm), ``K``/``dist``/``R``/``t`` its calibration
(``X_cam = R X_world + t``), ``view_id`` = webcam number - 1, ``sequence_id`` (``'data_N'``),
``frame_id`` (``f``) and ``bbox`` (the dataset's rule, :func:`padded_keypoint_bbox`). MHP has
no visibility labels: every joint is labelled, ``keypoints_visible`` is 1.

Joint 0: ``root='palm'`` keeps Leap Motion's ``PALM_POSITION``, the palm centre, which is not the
wrist (``dataset.metainfo`` then names joint 0 ``palm``); ``root='wrist'`` derives a wrist with
:func:`~poseforge.datasets.hand_conversions.palm_to_wrist` (shared with STB). The 22nd line,
``PALM_NORMAL``, is a direction and is not used.
"""
from __future__ import annotations

import os
import os.path as osp
import pickle
import re
from typing import Any, Sequence

import cv2
import numpy as np

from poseforge.datasets.base import BaseKeypointDataset, DatasetError, instance
from poseforge.datasets.hand_conversions import (DEFAULT_WRIST_ANCHOR, DEFAULT_WRIST_FACTOR,
                                                 HAND21_INDEX, check_root,
                                                 padded_keypoint_bbox, palm_to_wrist,
                                                 rodrigues, root_metainfo)
from poseforge.registry import DATASETS

__all__ = ['MhpDataset', 'MHP_LINE_NAMES', 'MHP_TO_HAND21', 'MHP_K', 'MHP_DIST',
           'read_mhp_joints', 'load_py2_array']

# --------------------------------------------------------------------------- format constants
#: Finger codes of the joints file -> hand21 finger.
_MHP_FINGERS = {'TH': 'thumb', 'F4': 'index', 'F3': 'middle', 'F2': 'ring', 'F1': 'little'}
#: Joint parts -> hand21 part number (1 = MCP ... 4 = tip). KNU1_A is the PIP, KNU1_B the MCP.
_MHP_PARTS = {'KNU1_B': '1', 'KNU1_A': '2', 'KNU2_A': '3', 'KNU3_A': '4'}
#: The 22 line names of a ``{f}_joints.txt``, in file order.
MHP_LINE_NAMES: tuple[str, ...] = tuple(
    f'{finger}_{part}' for finger in ('F4', 'F3', 'F1', 'F2', 'TH')
    for part in ('KNU1_A', 'KNU1_B', 'KNU2_A', 'KNU3_A')) + ('PALM_POSITION', 'PALM_NORMAL')


def _mhp_to_hand21() -> tuple[int, ...]:
    """``MHP_TO_HAND21[i]`` = the joints-file line of hand21 joint ``i`` (0 = PALM_POSITION)."""
    line_of = {'wrist': MHP_LINE_NAMES.index('PALM_POSITION')}
    for line, name in enumerate(MHP_LINE_NAMES[:20]):
        finger, part = name.split('_', 1)
        line_of[_MHP_FINGERS[finger] + _MHP_PARTS[part]] = line
    return tuple(line_of[name] for name in HAND21_INDEX)


#: The file's line index of every canonical (hand21) joint; joint 0 is the palm centre.
MHP_TO_HAND21: tuple[int, ...] = _mhp_to_hand21()

#: Intrinsics shared by all four webcams, and their distortion (k1, k2, p1, p2, k3).
MHP_K = np.array([[614.878, 0.0, 313.219], [0.0, 615.479, 231.288], [0.0, 0.0, 1.0]])
MHP_DIST = np.array([0.092701, -0.175877, -0.0035687, -0.00302299, 0.0])
MHP_VIEWS: tuple[int, ...] = (1, 2, 3, 4)

_EXPECTED_LAYOUT = ('annotated_frames/data_N/{f}_joints.txt and {f}_webcam_{1..4}.jpg, '
                    'calibrations/data_N/webcam_{1..4}/{rvec,tvec}.pkl')
_JOINTS_FILE = re.compile(r'^(\d+)_joints\.txt$')


# --------------------------------------------------------------------------- file readers
def read_mhp_joints(path: str) -> np.ndarray:
    """One ``{f}_joints.txt`` as a ``(22, 3)`` float64 array, lines in file order.

    Every line must be ``NAME x y z`` with the names of :data:`MHP_LINE_NAMES` in that order
    (the canonical mapping relies on it); anything else raises :class:`DatasetError` naming the
    file and the 1-based line.
    """
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"MhpDataset: cannot read joints file '{path}': {err}") from err
    if len(lines) != len(MHP_LINE_NAMES):
        raise DatasetError(f"MhpDataset: '{path}' has {len(lines)} non-empty lines, expected "
                           f'{len(MHP_LINE_NAMES)} (NAME x y z)')
    fields = [line.split() for line in lines]

    def fail(index: int, problem: str) -> DatasetError:
        return DatasetError(f"MhpDataset: '{path}', line {index + 1} ({lines[index].strip()!r}): "
                            f'{problem}')

    for index, (row, expected) in enumerate(zip(fields, MHP_LINE_NAMES)):
        if len(row) != 4:
            raise fail(index, f'expected "NAME x y z" (4 fields), got {len(row)}')
        if row[0] != expected:
            raise fail(index, f"expected joint '{expected}' here, got '{row[0]}'")
    try:  # one conversion for the whole file; find the culprit only when it fails
        joints = np.array([row[1:] for row in fields], dtype=np.float64)
    except ValueError:
        for index, row in enumerate(fields):
            try:
                [float(v) for v in row[1:]]
            except ValueError:
                raise fail(index, 'coordinates are not numbers') from None
        raise
    finite = np.isfinite(joints).all(axis=1)
    if not finite.all():
        raise fail(int(np.argmin(finite)), 'coordinates are not finite')
    return joints


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (as Python 2's numpy pickled them) and nothing else.

    The calibration pickles reference only ``numpy.core.multiarray._reconstruct``,
    ``numpy.ndarray`` and ``numpy.dtype``; refusing every other global means a tampered file
    cannot run code while it is read (``pickle.load`` would import and call anything).
    """

    def find_class(self, module: str, name: str) -> Any:
        if module in ('numpy.core.multiarray', 'numpy._core.multiarray') and name in (
                '_reconstruct', 'scalar'):
            multiarray = getattr(np, '_core', None) or np.core  # numpy 2 / numpy 1
            return getattr(multiarray.multiarray, name)
        if module == 'numpy' and name in ('ndarray', 'dtype'):
            return getattr(np, name)
        raise pickle.UnpicklingError(f'refusing to load {module}.{name} (only numpy arrays '
                                     'are expected)')


def load_py2_array(path: str, shape: tuple[int, ...] = (3,)) -> np.ndarray:
    """A numpy array pickled by Python 2 (``encoding='latin1'``), checked and reshaped.

    A missing, corrupt or wrongly shaped file raises an error that names it.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"MhpDataset: calibration file not found: '{path}' (expected "
                                f'layout: {_EXPECTED_LAYOUT})')
    try:
        with open(path, 'rb') as f:
            value = _NumpyOnlyUnpickler(f, encoding='latin1').load()
        array = np.asarray(value, dtype=np.float64)
    except Exception as err:  # corrupt pickles raise many types (EOFError, ValueError, ...)
        raise DatasetError(f"MhpDataset: '{path}' is not a readable Python-2 pickle of a "
                           f'numpy array ({type(err).__name__}: {err})') from None
    if array.size != int(np.prod(shape)) or not np.isfinite(array).all():
        raise DatasetError(f"MhpDataset: '{path}' holds an array of shape {array.shape}, "
                           f'expected {int(np.prod(shape))} finite values')
    return array.reshape(shape)


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
            :mod:`poseforge.datasets.hand_conversions`); used when ``root='wrist'``.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    SPLITS: dict[str, tuple[str, ...]] = {
        'train': tuple(f'data_{i}' for i in range(3, 22)),
        'val': ('data_1', 'data_2'),
    }

    def __init__(self, data_root: str = '', split: str | None = None,
                 sequences: Sequence[str] | None = None, views: Sequence[int] = MHP_VIEWS,
                 root: str = 'palm', wrist_anchor: str = DEFAULT_WRIST_ANCHOR,
                 wrist_factor: float = DEFAULT_WRIST_FACTOR, **kwargs: Any) -> None:
        name = type(self).__name__
        if split is not None and sequences is not None:
            raise ValueError(f'{name}: give split or sequences, not both')
        if split is not None and split not in self.SPLITS:
            raise ValueError(f'{name}: split must be one of {sorted(self.SPLITS)}, got {split!r}')
        bad_views = [v for v in views if v not in MHP_VIEWS]
        if bad_views or not views:
            raise ValueError(f'{name}: views must be webcam numbers among {MHP_VIEWS}, '
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
            f'data_root: {_EXPECTED_LAYOUT}.{hint}')

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
                               f"'{self._frames_root()}' (expected layout: {_EXPECTED_LAYOUT})")
        return found

    def _frame_ids(self, folder: str) -> list[int]:
        ids = sorted(int(m.group(1)) for m in map(_JOINTS_FILE.match, os.listdir(folder)) if m)
        if not ids:
            raise DatasetError(f"{type(self).__name__}: no {{f}}_joints.txt files in "
                               f"'{folder}' (expected layout: {_EXPECTED_LAYOUT})")
        return ids

    def _camera(self, sequence: str, view: int) -> tuple[np.ndarray, np.ndarray]:
        """``rvec (3,)`` and ``tvec (3,)`` of ``webcam_{view}`` (world -> camera)."""
        folder = osp.join(self.data_root, 'calibrations', sequence, f'webcam_{view}')
        return (load_py2_array(osp.join(folder, 'rvec.pkl')),
                load_py2_array(osp.join(folder, 'tvec.pkl')))

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
        world = np.stack([read_mhp_joints(osp.join(folder, f'{f}_joints.txt'))
                          for f in frames])[:, list(MHP_TO_HAND21)]  # (F, 21, 3), palm at 0
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
