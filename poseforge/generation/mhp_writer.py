"""MHP's original layout (Gomez-Donoso et al.; ``docs/datasets.md``), written and read.

``--format mhp`` writes each generated sequence ``s`` as MHP's ``data_{s + 1}``::

    annotated_frames/data_N/{f}_webcam_{k}.jpg      k = 1..V, 640 x 480 with the mhp rig
    annotated_frames/data_N/{f}_joints.txt          22 lines "NAME x y z", world frame, mm
    calibrations/data_N/webcam_{k}/{rvec,tvec}.pkl  (3, 1) float64, protocol-2 pickles
    projections_2d/data_N/{f}_jointsCam_{k}.txt     21 lines "NAME u v" (with distortion)
    bounding_boxes/data_N/{f}_bbox_{k}.txt          TOP, LEFT, BOTTOM, RIGHT
    depth_maps/data_N/{f}_depth_{k}.png, hand_masks/data_N/{f}_mask_{k}.png   (not in MHP)

Joint lines follow MHP's order and names: fingers F4 (index), F3 (middle), F1 (little), F2
(ring), TH (thumb), each ``KNU1_A`` (PIP), ``KNU1_B`` (MCP; the thumb's CMC), ``KNU2_A`` (DIP),
``KNU3_A`` (tip); then ``PALM_POSITION`` and ``PALM_NORMAL`` (a unit direction out of the palm).

MHP has no wrist label, only the Leap Motion palm centre. poseforge's loader derives a wrist
by reflecting the ring finger's MCP through the palm centre (``MhpDataset(root='wrist')``
defaults, ``poseforge.datasets.hand_conversions.palm_to_wrist``: ``wrist = ring_MCP + 2 (palm -
ring_MCP)``), so the palm written for a hand is its inverse, ``ring_MCP + (wrist - ring_MCP) /
2`` (:data:`WRIST_ANCHOR`, :data:`WRIST_FACTOR`), and reading the files back gives the same
wrist.

Calibration pickles hold ``cv2.Rodrigues`` vectors (world -> camera, ``X_cam = R X + t``).
They are written with protocol 2 and name numpy's reconstructor by its long-standing path
``numpy.core.multiarray``, as the released files do, so Python 2 / numpy 1 tools read them too.
"""
from __future__ import annotations

import io
import os.path as osp
import pickle
import struct

import cv2
import numpy as np

from poseforge.generation import writer

_FINGERS = (('F4', 1), ('F3', 2), ('F1', 4), ('F2', 3), ('TH', 0))
_PARTS = (('KNU1_A', 1), ('KNU1_B', 0), ('KNU2_A', 2), ('KNU3_A', 3))
#: The 20 finger-joint names in MHP's line order, and each one's hand21 index.
MHP_JOINT_NAMES = tuple(f'{finger}_{part}' for finger, _ in _FINGERS for part, _ in _PARTS)
MHP_TO_HAND21 = np.array([1 + 4 * f + o for _, f in _FINGERS for _, o in _PARTS])
PALM_POSITION, PALM_NORMAL = 'PALM_POSITION', 'PALM_NORMAL'
#: ``wrist = joints[WRIST_ANCHOR] + WRIST_FACTOR * (palm - joints[WRIST_ANCHOR])`` (the ring
#: MCP reflected through the palm centre, as the MHP and STB loaders derive a wrist).
WRIST_ANCHOR = 13
WRIST_FACTOR = 2.0
#: MHP's box rule: keypoint extremes padded by ``PAD_PX * mean depth / PAD_DEPTH_MM``.
PAD_PX, PAD_DEPTH_MM = 20.0, 390.0


class MhpFormatError(ValueError):
    """An MHP file does not follow the layout."""


# --------------------------------------------------------------------------- joints
def palm_position(joints: np.ndarray) -> np.ndarray:
    """The palm centre written for a hand21 hand (inverse of :func:`wrist_from_palm`)."""
    anchor = joints[WRIST_ANCHOR]
    return anchor + (joints[0] - anchor) / WRIST_FACTOR


def wrist_from_palm(palm: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """The wrist derived from the palm centre and the anchor joint (the ring MCP)."""
    return anchor + WRIST_FACTOR * (palm - anchor)


def palm_normal(joints: np.ndarray, hand_side: str) -> np.ndarray:
    """Unit direction out of the palm: ``(index - wrist) x (little - wrist)`` for a right
    hand, the opposite for a (mirrored) left hand."""
    normal = np.cross(joints[5] - joints[0], joints[17] - joints[0])
    normal /= np.linalg.norm(normal)
    return -normal if hand_side == 'left' else normal


def joints_text(joints: np.ndarray, hand_side: str) -> str:
    """The 22 lines of a ``{f}_joints.txt`` for hand21 ``joints`` (world frame, mm)."""
    rows = [(name, joints[i]) for name, i in zip(MHP_JOINT_NAMES, MHP_TO_HAND21)]
    rows += [(PALM_POSITION, palm_position(joints)), (PALM_NORMAL, palm_normal(joints, hand_side))]
    return ''.join(f'{name} {x:.6f} {y:.6f} {z:.6f}\n' for name, (x, y, z) in rows)


def read_joints(path: str) -> dict:
    """A ``{f}_joints.txt``: ``joints`` (21, 3) hand21 with the wrist rule above, ``palm``,
    ``normal``."""
    values: dict[str, np.ndarray] = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise MhpFormatError(f"'{path}' line {number}: expected 'NAME x y z'")
            try:
                values[parts[0]] = np.array([float(v) for v in parts[1:]])
            except ValueError:
                raise MhpFormatError(f"'{path}' line {number}: non-numeric value") from None
    missing = [n for n in MHP_JOINT_NAMES + (PALM_POSITION, PALM_NORMAL) if n not in values]
    if missing:
        raise MhpFormatError(f"'{path}': missing {', '.join(missing)}")
    joints = np.zeros((21, 3))
    joints[MHP_TO_HAND21] = np.stack([values[n] for n in MHP_JOINT_NAMES])
    joints[0] = wrist_from_palm(values[PALM_POSITION], joints[WRIST_ANCHOR])
    return dict(joints=joints, palm=values[PALM_POSITION], normal=values[PALM_NORMAL])


# --------------------------------------------------------------------------- calibration
class _Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes ``bytes`` as Python 2 ``str`` (``BINSTRING`` opcodes).

    Python 3 pickles ``bytes`` for protocol 2 as a call to ``_codecs.encode``, which Python 2
    cannot load and a numpy-only unpickler (``MhpDataset``) rightly refuses; Python 2's numpy
    wrote the array buffer as a plain string, as the released calibration files have it.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def calibration_pickle(vector: np.ndarray) -> bytes:
    """A (3, 1) float64 array as a Python-2 style protocol-2 pickle (``numpy.core`` path)."""
    array = np.asarray(vector, dtype=np.float64).reshape(3, 1)
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(array)
    return buffer.getvalue().replace(b'cnumpy._core.multiarray\n', b'cnumpy.core.multiarray\n')


def read_calibration(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """``R`` (3, 3) and ``t`` (3,) from a ``webcam_k`` folder's pickles."""
    out = []
    for name in ('rvec.pkl', 'tvec.pkl'):
        with open(osp.join(folder, name), 'rb') as f:
            out.append(np.asarray(pickle.load(f, encoding='latin1'), dtype=np.float64))
    rotation, _ = cv2.Rodrigues(out[0].reshape(3, 1))
    return rotation, out[1].reshape(3)


def write_calibration(out_dir: str, sequence: int, webcam: int, R: np.ndarray,
                      t: np.ndarray) -> None:
    rvec, _ = cv2.Rodrigues(np.asarray(R, dtype=np.float64))
    folder = osp.join(out_dir, 'calibrations', f'data_{sequence}', f'webcam_{webcam}')
    writer.write_bytes(osp.join(folder, 'rvec.pkl'), calibration_pickle(rvec))
    writer.write_bytes(osp.join(folder, 'tvec.pkl'), calibration_pickle(np.asarray(t)))


# --------------------------------------------------------------------------- derived files
def projections_text(joints: np.ndarray, camera) -> str:
    """``{f}_jointsCam_{k}.txt``: the 20 joints and the palm, projected with distortion."""
    points = np.vstack([joints[MHP_TO_HAND21], palm_position(joints)[None]])
    uv = camera.project(points)
    names = MHP_JOINT_NAMES + (PALM_POSITION,)
    return ''.join(f'{name} {u!r} {v!r}\n' for name, (u, v) in zip(names, uv.tolist()))


def bbox_values(joints: np.ndarray, camera) -> tuple[int, int, int, int]:
    """MHP's box ``(top, left, bottom, right)``: the projected joints and palm, padded by
    ``20 px * mean depth / 390 mm``, truncated to integers as the released files are."""
    points = np.vstack([joints[MHP_TO_HAND21], palm_position(joints)[None]])
    uv = camera.project(points)
    pad = PAD_PX * camera.to_camera(points)[:, 2].mean() / PAD_DEPTH_MM
    left, top = uv.min(0) - pad
    right, bottom = uv.max(0) + pad
    return int(top), int(left), int(bottom), int(right)


def bbox_text(joints: np.ndarray, camera) -> str:
    top, left, bottom, right = bbox_values(joints, camera)
    return f'TOP {top}\nLEFT {left}\nBOTTOM {bottom}\nRIGHT {right}\n'


# --------------------------------------------------------------------------- one frame
def frame_paths(sequence: int, frame: int, webcam: int) -> dict[str, str]:
    """Paths (relative to the output directory) of one view's files."""
    data = f'data_{sequence}'
    return dict(
        rgb=osp.join('annotated_frames', data, f'{frame}_webcam_{webcam}.jpg'),
        joints=osp.join('annotated_frames', data, f'{frame}_joints.txt'),
        projection=osp.join('projections_2d', data, f'{frame}_jointsCam_{webcam}.txt'),
        bbox=osp.join('bounding_boxes', data, f'{frame}_bbox_{webcam}.txt'),
        depth=osp.join('depth_maps', data, f'{frame}_depth_{webcam}.png'),
        mask=osp.join('hand_masks', data, f'{frame}_mask_{webcam}.png'))


def write_frame_labels(out_dir: str, sequence: int, frame: int, joints: np.ndarray,
                       hand_side: str, cameras: list) -> None:
    """The joints file and each view's projections and box of one frame."""
    writer.write_text(osp.join(out_dir, frame_paths(sequence, frame, 1)['joints']),
                      joints_text(joints, hand_side))
    for k, camera in enumerate(cameras, 1):
        paths = frame_paths(sequence, frame, k)
        writer.write_text(osp.join(out_dir, paths['projection']), projections_text(joints, camera))
        writer.write_text(osp.join(out_dir, paths['bbox']), bbox_text(joints, camera))


__all__ = ['MHP_JOINT_NAMES', 'MHP_TO_HAND21', 'MhpFormatError', 'WRIST_ANCHOR', 'WRIST_FACTOR',
           'bbox_values', 'calibration_pickle', 'frame_paths', 'joints_text', 'palm_normal',
           'palm_position', 'read_calibration', 'read_joints', 'write_calibration',
           'write_frame_labels', 'wrist_from_palm']
