"""``StbDataset``: the Stereo Hand Pose Tracking Benchmark (Zhang et al. 2016), read from its
original release layout.

Layout under ``data_root`` (``docs/datasets.md``, STB)::

    images/<SEQ>/SK_color_{i}.png, SK_depth_{i}.png, BB_left_{i}.png, BB_right_{i}.png
    labels/<SEQ>_SK.mat, labels/<SEQ>_BB.mat     variable handPara (3, 21, 1500), mm

with ``<SEQ>`` in ``B{1..6}{Counting,Random}`` and ``i = 0..1499`` (no zero padding).

Labels (``handPara`` transposed to (frames, 21, 3)) list the palm centre, then the little,
ring, middle, index and thumb fingers, each MCP -> PIP -> DIP -> TIP (:data:`STB_TO_HAND21`
reorders them into ``hand21``). Frames of the two cameras:

* ``SK`` (Intel RealSense F200): the labels are in the *depth* camera's frame;
  ``X_color = R^T (X - T)`` with ``R = Rodrigues(STB_SK_RVEC)``, ``T = STB_SK_T`` (mm), then a
  pinhole projection with ``STB_K_COLOR`` (no distortion). So the entries' world frame is the
  depth camera: ``R_entry = R^T``, ``t_entry = -R^T T``.
* ``BB`` (Point Grey Bumblebee2 stereo pair): the labels are in the *left* camera's frame,
  ``STB_K_BB`` for both; the right camera sits ``STB_BASELINE`` mm along +x, so its points are
  ``X - (baseline, 0, 0)``. These are the numbers of lmb-freiburg/hand3d's ``create_db.m``.

One schema entry per (frame, view), with ``keypoints_3d`` in that camera's frame (mm), ``K``,
``R``, ``t`` (label frame -> camera), ``view_id`` (0 = SK or BB left, 1 = BB right),
``sequence_id``, ``frame_id``, ``hand_side='left'`` (STB has left hands only) and, for SK, the
frame's ``depth_path`` (decode it with :func:`read_stb_depth`). Every joint is labelled
(``keypoints_visible`` = 1). STB has no boxes: ``bbox`` follows MHP's rule
(:func:`~poseforge.datasets.hand_conversions.padded_keypoint_bbox`, 20 px at 390 mm).

Joint 0 is the palm centre (``root='palm'``, named ``palm`` in the metainfo) or a derived wrist
(``root='wrist'``; rule and default in :mod:`poseforge.datasets.hand_conversions`: hand3d's
``ring_MCP + 2 (palm - ring_MCP)``).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Sequence

import cv2
import numpy as np
import scipy.io

from poseforge.datasets.base import BaseKeypointDataset, DatasetError, instance
from poseforge.datasets.hand_conversions import (DEFAULT_WRIST_ANCHOR, DEFAULT_WRIST_FACTOR,
                                                 HAND21_INDEX, check_root,
                                                 padded_keypoint_bbox, palm_to_wrist,
                                                 project_pinhole, rodrigues, root_metainfo)
from poseforge.registry import DATASETS

__all__ = ['StbDataset', 'STB_TO_HAND21', 'STB_SK_RVEC', 'STB_SK_T', 'STB_K_COLOR',
           'STB_K_DEPTH', 'STB_K_BB', 'STB_BASELINE', 'read_stb_labels', 'decode_stb_depth',
           'read_stb_depth']

# --------------------------------------------------------------------------- format constants
_STB_JOINT_NAMES: tuple[str, ...] = ('wrist',) + tuple(
    f'{finger}{part}' for finger in ('little', 'ring', 'middle', 'index', 'thumb')
    for part in '1234')  # 'wrist' stands for STB's palm centre here
#: ``STB_TO_HAND21[i]`` = STB's joint index of hand21 joint ``i`` (0 = palm centre).
STB_TO_HAND21: tuple[int, ...] = tuple(_STB_JOINT_NAMES.index(n) for n in HAND21_INDEX)

#: SK: depth camera -> colour camera extrinsics (Rodrigues vector, translation in mm).
STB_SK_RVEC = np.array([0.00531, -0.01196, 0.00301])
STB_SK_T = np.array([-24.0381, -0.4563, -1.2326])
STB_K_COLOR = np.array([[607.92271, 0.0, 314.78337], [0.0, 607.88192, 236.42484],
                        [0.0, 0.0, 1.0]])
#: SK depth camera intrinsics (for depth back-projection; labels are projected to colour).
STB_K_DEPTH = np.array([[475.62768, 0.0, 336.41179], [0.0, 474.77709, 238.77962],
                        [0.0, 0.0, 1.0]])
#: Bumblebee2 intrinsics (both views) and stereo baseline (mm).
STB_K_BB = np.array([[822.79041, 0.0, 318.47345], [0.0, 822.79041, 250.31296],
                     [0.0, 0.0, 1.0]])
STB_BASELINE = 120.054

#: camera argument -> (label file suffix, views); a view is (image prefix, view_id).
_CAMERAS: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    'SK': ('SK', (('SK_color', 0),)),
    'BB_left': ('BB', (('BB_left', 0),)),
    'BB_right': ('BB', (('BB_right', 1),)),
    'BB': ('BB', (('BB_left', 0), ('BB_right', 1))),
}
_EXPECTED_LAYOUT = ('images/<SEQ>/{SK_color,SK_depth,BB_left,BB_right}_{i}.png and '
                    'labels/<SEQ>_{SK,BB}.mat, <SEQ> = B{1..6}{Counting,Random}')


# --------------------------------------------------------------------------- readers
def read_stb_labels(path: str) -> np.ndarray:
    """``handPara`` of an STB label file as ``(frames, 21, 3)`` float64 mm (STB joint order).

    A file that is not a MATLAB v5 mat, lacks ``handPara`` or has another shape raises
    :class:`DatasetError` naming it.
    """
    try:
        mat = scipy.io.loadmat(path, variable_names=['handPara'])
    except NotImplementedError:  # scipy's answer to v7.3 (HDF5) files
        raise DatasetError(f"StbDataset: '{path}' is a MATLAB v7.3 (HDF5) file; re-save it "
                           "with save(..., '-v7') (the release's files are v5)") from None
    except Exception as err:  # truncated or foreign files raise ValueError, TypeError, ...
        raise DatasetError(f"StbDataset: '{path}' is not a readable .mat file "
                           f'({type(err).__name__}: {err})') from None
    if 'handPara' not in mat:
        found = sorted(name for name, _, _ in scipy.io.whosmat(path))
        raise DatasetError(f"StbDataset: '{path}' has no variable 'handPara' (found: {found})")
    para = np.asarray(mat['handPara'], dtype=np.float64)
    if para.ndim == 2 and para.shape == (3, 21):  # a one-frame file loses its last axis
        para = para[:, :, None]
    if para.ndim != 3 or para.shape[:2] != (3, 21):
        raise DatasetError(f"StbDataset: '{path}': handPara has shape {para.shape}, expected "
                           '(3, 21, frames)')
    if not np.isfinite(para).all():
        raise DatasetError(f"StbDataset: '{path}': handPara has non-finite values")
    return para.transpose(2, 1, 0)


def decode_stb_depth(rgb: np.ndarray) -> np.ndarray:
    """An STB depth png's pixels, in **RGB** channel order, -> depth in mm (float32).

    STB packs depth as ``R + 256 * G``. ``LoadImage`` gives RGB; an array read with plain
    ``cv2.imread`` is BGR: use :func:`read_stb_depth` for files.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 2:
        raise ValueError(f'STB depth needs an (H, W, 3) colour image, got {rgb.shape}')
    return rgb[..., 0].astype(np.float32) + 256.0 * rgb[..., 1].astype(np.float32)


def read_stb_depth(path: str) -> np.ndarray:
    """Read an ``SK_depth_{i}.png`` and decode it to mm (float32, (H, W))."""
    bgr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise OSError(f"cannot read STB depth image '{path}'")
    if bgr.ndim != 3 or bgr.shape[2] < 3:
        raise ValueError(f"STB depth image '{path}' is not a colour png (shape {bgr.shape})")
    return decode_stb_depth(bgr[..., 2::-1])  # BGR(A) -> RGB


# --------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class StbDataset(BaseKeypointDataset):
    """STB, 21 keypoints (``hand21``), one instance per (frame, view).

    Args:
        data_root: the STB root (holding ``images/`` and ``labels/``).
        split: ``'train'`` (``B2`` .. ``B6``, Counting and Random) or ``'test'``
            (``B1Counting``, ``B1Random``), the usual protocol (hand3d, DGGAN). Leave it ``None``
            to give ``sequences``; with neither, all twelve sequences are read.
        sequences: sequence names, e.g. ``('B1Counting',)``.
        camera: ``'SK'`` (RealSense colour), ``'BB_left'``, ``'BB_right'`` or ``'BB'`` (both
            Bumblebee views, two instances per frame).
        root: ``'palm'`` (joint 0 = the labelled palm centre) or ``'wrist'`` (derived).
        wrist_anchor, wrist_factor: the palm -> wrist rule, ``wrist = anchor + factor *
            (palm - anchor)``; default hand3d's ``ring1`` (ring MCP), 2.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    SEQUENCES: tuple[str, ...] = tuple(f'B{i}{kind}' for i in range(1, 7)
                                       for kind in ('Counting', 'Random'))
    SPLITS: dict[str, tuple[str, ...]] = {
        'train': SEQUENCES[2:],
        'test': SEQUENCES[:2],
    }

    def __init__(self, data_root: str = '', split: str | None = None,
                 sequences: Sequence[str] | None = None, camera: str = 'SK',
                 root: str = 'palm', wrist_anchor: str = DEFAULT_WRIST_ANCHOR,
                 wrist_factor: float = DEFAULT_WRIST_FACTOR, **kwargs: Any) -> None:
        name = type(self).__name__
        if split is not None and sequences is not None:
            raise ValueError(f'{name}: give split or sequences, not both')
        if split is not None and split not in self.SPLITS:
            raise ValueError(f'{name}: split must be one of {sorted(self.SPLITS)}, got {split!r}')
        if camera not in _CAMERAS:
            raise ValueError(f'{name}: camera must be one of {sorted(_CAMERAS)}, got {camera!r}')
        self.split = split
        self.sequences = None if sequences is None else [str(s) for s in sequences]
        self.camera = camera
        self.root = check_root(root, name)
        self.wrist_anchor = wrist_anchor
        self.wrist_factor = float(wrist_factor)
        if root == 'wrist':  # fail now on a bad anchor
            palm_to_wrist(np.zeros((21, 3)), wrist_anchor, wrist_factor)
        metainfo = root_metainfo(root)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    # ------------------------------------------------------------------ layout
    def _check_layout(self) -> None:
        missing = [d for d in ('images', 'labels') if not osp.isdir(osp.join(self.data_root, d))]
        if not missing:
            return
        entries = os.listdir(self.data_root) if osp.isdir(self.data_root) else []
        hint = ''
        if any(e in self.SEQUENCES for e in entries):
            hint = (' The sequence folders sit directly in data_root; move them into images/ '
                    '(and the .mat files into labels/).')
        elif any(e.endswith(('_SK.mat', '_BB.mat')) for e in entries):
            hint = ' data_root looks like the labels/ folder; point it at its parent.'
        raise DatasetError(
            f"{type(self).__name__}: '{self.data_root}' is not laid out as expected: missing "
            f"{', '.join(m + '/' for m in missing)}. Expected the original STB layout under "
            f'data_root: {_EXPECTED_LAYOUT}.{hint}')

    def _sequence_names(self) -> list[str]:
        if self.sequences is not None:
            return list(self.sequences)
        if self.split is not None:
            return list(self.SPLITS[self.split])
        return list(self.SEQUENCES)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        self._check_layout()
        entries: list[dict] = []
        for sequence in self._sequence_names():
            entries.extend(self._load_sequence(sequence, first_id=len(entries)))
        return entries

    def _load_sequence(self, sequence: str, first_id: int) -> list[dict]:
        suffix, views = _CAMERAS[self.camera]
        label_file = self.require_file(
            osp.join(self.data_root, 'labels', f'{sequence}_{suffix}.mat'), 'label file')
        image_dir = self.require_file(osp.join(self.data_root, 'images', sequence),
                                      'image folder')
        labelled = read_stb_labels(label_file)[:, list(STB_TO_HAND21)]  # (F, 21, 3), palm at 0
        joints = (palm_to_wrist(labelled, self.wrist_anchor, self.wrist_factor)
                  if self.root == 'wrist' else labelled)
        per_view = [(prefix, view_id, *self._view_labels(labelled, joints, prefix))
                    for prefix, view_id in views]
        entries = []
        for frame in range(len(labelled)):
            for prefix, view_id, keypoints, keypoints_3d, boxes, K, R, t in per_view:
                index = first_id + len(entries)
                extra = {}
                if prefix == 'SK_color':
                    extra['depth_path'] = osp.join(image_dir, f'SK_depth_{frame}.png')
                entries.append(instance(
                    osp.join(image_dir, f'{prefix}_{frame}.png'), index, index, boxes[frame],
                    keypoints[frame], np.ones(len(keypoints[frame]), np.float32),
                    keypoints_3d=keypoints_3d[frame], K=K, R=R, t=t, view_id=view_id,
                    sequence_id=sequence, frame_id=frame, hand_side='left', **extra))
        return entries

    @staticmethod
    def view_extrinsics(prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``K``, and ``R``, ``t`` mapping the label frame into view ``prefix``'s camera."""
        if prefix == 'SK_color':
            R_depth_to_color = rodrigues(STB_SK_RVEC).T  # X_color = R^T X - R^T T
            return STB_K_COLOR, R_depth_to_color, -R_depth_to_color @ STB_SK_T
        offset = STB_BASELINE if prefix == 'BB_right' else 0.0
        return STB_K_BB, np.eye(3), np.array([-offset, 0.0, 0.0])

    def _view_labels(self, labelled: np.ndarray, joints: np.ndarray, prefix: str
                     ) -> tuple[np.ndarray, ...]:
        """All frames of one view: keypoints (F, 21, 2), camera-frame joints (F, 21, 3),
        boxes (F, 4), and the view's K, R, t."""
        K, R, t = self.view_extrinsics(prefix)
        keypoints_3d = joints @ R.T + t
        keypoints = project_pinhole(keypoints_3d, K)
        labelled_cam = labelled @ R.T + t
        extent = keypoints
        if self.root == 'wrist':
            extent = np.concatenate([keypoints, project_pinhole(labelled_cam[:, :1], K)], axis=1)
        boxes = padded_keypoint_bbox(extent, labelled_cam[..., 2].mean(axis=1))
        return keypoints, keypoints_3d, boxes, K, R, t
