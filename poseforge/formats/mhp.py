"""MHP's file format (Large-scale Multiview 3D Hand Pose Dataset, Gomez-Donoso et al.;
``docs/datasets.md``), every fact once: read by :class:`~poseforge.datasets.mhp.MhpDataset`,
written by the generator's :mod:`~poseforge.generation.mhp_writer`. numpy and OpenCV only.

Layout of a release (and of ``tools/generate_dataset.py --format mhp``)::

    annotated_frames/data_N/{f}_webcam_{1..4}.jpg      640x480
    annotated_frames/data_N/{f}_joints.txt             22 lines "NAME x y z", Leap Motion world, mm
    calibrations/data_N/webcam_{k}/{rvec,tvec}.pkl     Python-2 pickles, (3, 1) float64
    projections_2d/data_N/{f}_jointsCam_{k}.txt        21 lines "NAME u v" (with distortion)
    bounding_boxes/data_N/{f}_bbox_{k}.txt             TOP, LEFT, BOTTOM, RIGHT (integers)

**Joints.** Lines in file order: fingers F4 (index), F3 (middle), F1 (little), F2 (ring), TH
(thumb), each ``KNU1_A`` (PIP), ``KNU1_B`` (MCP; the thumb's CMC), ``KNU2_A`` (DIP), ``KNU3_A``
(tip); then ``PALM_POSITION`` (the palm centre, MHP's root) and ``PALM_NORMAL`` (a unit
direction out of the palm, not a joint). Two index maps convert between this order and
poseforge's canonical ``hand21`` order (joint 0 = the root, then each finger root -> tip), both
used as ``take`` indices:

* ``canonical = mhp_lines[..., MHP_TO_CANONICAL, :]``: the file's line of every canonical joint
  (joint 0 <- ``PALM_POSITION``);
* ``mhp_lines = canonical[..., CANONICAL_TO_MHP, :]``: the canonical joint of each of the first
  21 lines (``PALM_POSITION`` <- joint 0). The two are inverse permutations.

**Wrist.** MHP labels the palm centre, not the wrist. The rule shared with STB
(:func:`palm_to_wrist`, lmb-freiburg/hand3d's STB conversion, ``docs/datasets.md``): ``wrist =
ring_MCP + 2 (palm - ring_MCP)``, the ring finger's MCP reflected through the palm centre;
:func:`wrist_to_palm` is its inverse, so a palm written for a hand reads back as its wrist.

**Cameras.** Four webcams with the same intrinsics :data:`MHP_K` and distortion :data:`MHP_DIST`
(k1, k2, p1, p2, k3); ``X_cam = Rodrigues(rvec) X_world + tvec``. The projections are
``cv2.projectPoints`` with the distortion.

**Box.** :func:`padded_keypoint_bbox`: the projected points' extent padded by ``20 px * mean
depth / 390 mm``, each side truncated to an integer, as the dataset's own box files are.
"""
from __future__ import annotations

import io
import os.path as osp
import pickle
import struct
from typing import Any, Sequence

import numpy as np

from poseforge.skeletons import HAND21


class MhpFormatError(ValueError):
    """An MHP file does not hold what the format says; the message names the file."""


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


#: What a loader needs under a release's root, in one line (for error messages).
MHP_FILE_LAYOUT = ('annotated_frames/data_N/{f}_joints.txt and {f}_webcam_{1..4}.jpg, '
              'calibrations/data_N/webcam_{1..4}/{rvec,tvec}.pkl')


# --------------------------------------------------------------------------- joints
#: Finger codes of the joints file -> ``hand21`` finger names.
FINGER_CODES: dict[str, str] = {'TH': 'thumb', 'F4': 'index', 'F3': 'middle', 'F2': 'ring',
                                'F1': 'little'}
#: Joint-part codes -> ``hand21`` part number (1 = MCP ... 4 = tip).
PART_CODES: dict[str, str] = {'KNU1_B': '1', 'KNU1_A': '2', 'KNU2_A': '3', 'KNU3_A': '4'}
PALM_POSITION, PALM_NORMAL = 'PALM_POSITION', 'PALM_NORMAL'
#: The 22 line names of a ``{f}_joints.txt``, in file order.
MHP_LINE_NAMES: tuple[str, ...] = tuple(
    f'{finger}_{part}' for finger in ('F4', 'F3', 'F1', 'F2', 'TH')
    for part in ('KNU1_A', 'KNU1_B', 'KNU2_A', 'KNU3_A')) + (PALM_POSITION, PALM_NORMAL)
#: Lines that are points (all but ``PALM_NORMAL``): the 21 of the projection files.
MHP_POINT_NAMES: tuple[str, ...] = MHP_LINE_NAMES[:21]
#: hand21 joint name -> index.
HAND21_INDEX: dict[str, int] = {name: i for i, name in enumerate(HAND21.keypoint_names)}


def _canonical_name(line_name: str) -> str:
    if line_name == PALM_POSITION:
        return HAND21.keypoint_names[0]
    finger, part = line_name.split('_', 1)
    return FINGER_CODES[finger] + PART_CODES[part]


_LINE_OF = {_canonical_name(name): line for line, name in enumerate(MHP_POINT_NAMES)}
#: ``(21,)`` take-index: ``canonical = mhp_lines[MHP_TO_CANONICAL]`` (module docstring).
MHP_TO_CANONICAL: np.ndarray = _frozen(np.array([_LINE_OF[name] for name in HAND21.keypoint_names],
                                                dtype=np.int64))
#: ``(21,)`` take-index: ``mhp_lines[:21] = canonical[CANONICAL_TO_MHP]`` (module docstring).
CANONICAL_TO_MHP: np.ndarray = _frozen(np.array(
    [HAND21_INDEX[_canonical_name(n)] for n in MHP_POINT_NAMES], dtype=np.int64))


# --------------------------------------------------------------------------- cameras
#: Intrinsics shared by all four webcams, and their distortion (k1, k2, p1, p2, k3).
MHP_K: np.ndarray = _frozen(np.array([[614.878, 0.0, 313.219], [0.0, 615.479, 231.288],
                                      [0.0, 0.0, 1.0]]))
MHP_DIST: np.ndarray = _frozen(np.array([0.092701, -0.175877, -0.0035687, -0.00302299, 0.0]))
#: Webcam image ``(width, height)``, and the webcam numbers of a frame.
MHP_IMAGE_SIZE: tuple[int, int] = (640, 480)
MHP_WEBCAMS: tuple[int, ...] = (1, 2, 3, 4)


# --------------------------------------------------------------------------- wrist rule
#: hand21 joint reflected through the palm centre to make the wrist, and the factor.
WRIST_ANCHOR = 'ring1'
WRIST_FACTOR = 2.0


def _anchor_index(anchor: str) -> int:
    if anchor not in HAND21_INDEX or anchor == HAND21.keypoint_names[0]:
        raise ValueError(f'wrist anchor must be a finger joint of hand21 '
                         f'({", ".join(HAND21.keypoint_names[1:])}), got {anchor!r}')
    return HAND21_INDEX[anchor]


def palm_to_wrist(keypoints: np.ndarray, anchor: str = WRIST_ANCHOR,
                  factor: float = WRIST_FACTOR) -> np.ndarray:
    """Replace joint 0 (the palm centre) of ``hand21``-ordered keypoints by a derived wrist.

    ``wrist = kp[anchor] + factor * (kp[0] - kp[anchor])``, on the last two axes of
    ``keypoints`` (..., 21, D): a batch of frames, 2D or 3D points alike. Apply it to 3D points
    and project, rather than to 2D projections: under perspective (and lens distortion) the 2D
    extrapolation is not the projection of the 3D wrist. It is an approximation: the palm
    centre lies about half-way between the knuckles and the wrist only on average; other papers
    use other anchors (e.g. the middle MCP), hence the options.

    Args:
        keypoints: ``(..., 21, D)`` in the ``hand21`` order with the palm centre at index 0.
        anchor: the ``hand21`` joint name reflected through the palm (default ``ring1``).
        factor: 2 reflects the anchor through the palm centre; other values slide along the
            same line.
    Returns:
        A float64 copy with joint 0 replaced by the wrist.
    """
    index = _anchor_index(anchor)
    out = np.array(keypoints, dtype=np.float64, copy=True)
    anchor_xyz = out[..., index, :]
    out[..., 0, :] = anchor_xyz + factor * (out[..., 0, :] - anchor_xyz)
    return out


def wrist_to_palm(keypoints: np.ndarray, anchor: str = WRIST_ANCHOR,
                  factor: float = WRIST_FACTOR) -> np.ndarray:
    """The palm centre ``(..., D)`` that :func:`palm_to_wrist` turns into joint 0 (the wrist)
    of ``hand21``-ordered ``keypoints`` ``(..., 21, D)``: what a writer stores as
    ``PALM_POSITION`` so that the file reads back to the same wrist."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    anchor_xyz = keypoints[..., _anchor_index(anchor), :]
    return anchor_xyz + (keypoints[..., 0, :] - anchor_xyz) / factor


# --------------------------------------------------------------------------- box rule
#: The box padding: ``BOX_PAD_PX`` pixels at ``BOX_REF_DEPTH_MM``, scaled by 1 / depth.
BOX_PAD_PX = 20.0
BOX_REF_DEPTH_MM = 390.0


def padded_keypoint_bbox(keypoints_2d: np.ndarray, mean_depth_mm: np.ndarray,
                         pad_px: float = BOX_PAD_PX,
                         ref_depth_mm: float = BOX_REF_DEPTH_MM) -> np.ndarray:
    """MHP's hand box: keypoint extent padded by ``pad_px * mean_depth / ref_depth`` pixels.

    The dataset's utility scripts write ``TOP, LEFT, BOTTOM, RIGHT`` as integers; their values
    are reproduced by **truncating** each padded side towards zero (``int()``; the floor for the
    positive coordinates of in-image boxes), with ``mean_depth`` the mean camera-frame ``z`` of
    the 21 labelled points (checked against the four views of the fixture frame, where the
    palm's depth or the mean distance to the camera give different boxes). The box is not
    clipped to the image, as in the dataset's files.

    Args:
        keypoints_2d: ``(N, K, 2)`` pixels.
        mean_depth_mm: ``(N,)`` mean camera-frame depth of each instance's points.
    Returns:
        ``(N, 4)`` float64 ``x1, y1, x2, y2`` (``LEFT, TOP, RIGHT, BOTTOM``), integral values.
    """
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    pad = pad_px * np.asarray(mean_depth_mm, dtype=np.float64).reshape(-1, 1) / ref_depth_mm
    low = keypoints_2d.min(axis=1) - pad
    high = keypoints_2d.max(axis=1) + pad
    return np.trunc(np.concatenate([low, high], axis=1))


# --------------------------------------------------------------------------- joints files
def read_joints_file(path: str) -> np.ndarray:
    """One ``{f}_joints.txt`` as a ``(22, 3)`` float64 array, lines in file order.

    Every line must be ``NAME x y z`` with the names of :data:`MHP_LINE_NAMES` in that order
    (the index maps rely on it); anything else raises :class:`MhpFormatError` naming the file
    and the 1-based line.
    """
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise MhpFormatError(f"cannot read joints file '{path}': {err}") from err
    if len(lines) != len(MHP_LINE_NAMES):
        raise MhpFormatError(f"'{path}' has {len(lines)} non-empty lines, expected "
                             f'{len(MHP_LINE_NAMES)} (NAME x y z)')
    fields = [line.split() for line in lines]

    def fail(index: int, problem: str) -> MhpFormatError:
        return MhpFormatError(f"'{path}', line {index + 1} ({lines[index].strip()!r}): "
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


def joints_file_text(lines: np.ndarray) -> str:
    """The text of a ``{f}_joints.txt`` for ``(22, 3)`` rows in file order (6 decimals, as
    the release writes them)."""
    lines = np.asarray(lines, dtype=np.float64).reshape(len(MHP_LINE_NAMES), 3)
    return ''.join(f'{name} {x:.6f} {y:.6f} {z:.6f}\n'
                   for name, (x, y, z) in zip(MHP_LINE_NAMES, lines.tolist()))


# --------------------------------------------------------------------------- calibration


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

    Raises ``FileNotFoundError`` for a missing file and :class:`MhpFormatError` for a corrupt
    one, a wrongly shaped one, or one that pickles anything but a numpy array; both name it.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"MHP calibration file not found: '{path}' (expected layout: "
                                f'{MHP_FILE_LAYOUT})')
    try:
        with open(path, 'rb') as f:
            value = _NumpyOnlyUnpickler(f, encoding='latin1').load()
        array = np.asarray(value, dtype=np.float64)
    except Exception as err:  # corrupt pickles raise many types (EOFError, ValueError, ...)
        raise MhpFormatError(f"'{path}' is not a readable Python-2 pickle of a numpy array "
                             f'({type(err).__name__}: {err})') from None
    if array.size != int(np.prod(shape)) or not np.isfinite(array).all():
        raise MhpFormatError(f"'{path}' holds an array of shape {array.shape}, expected "
                             f'{int(np.prod(shape))} finite values')
    return array.reshape(shape)


def read_calibration(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """``rvec (3,)`` and ``tvec (3,)`` (world -> camera) of a ``webcam_k`` folder."""
    return (load_py2_array(osp.join(folder, 'rvec.pkl')),
            load_py2_array(osp.join(folder, 'tvec.pkl')))


class _Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes ``bytes`` as Python 2 ``str`` (``BINSTRING`` opcodes).

    Python 3 pickles ``bytes`` for protocol 2 as a call to ``_codecs.encode``, which Python 2
    cannot load and :func:`load_py2_array` rightly refuses; Python 2's numpy wrote the array
    buffer as a plain string, as the released calibration files have it.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def calibration_pickle(vector: Sequence[float] | np.ndarray) -> bytes:
    """A ``(3, 1)`` float64 array as the release pickles it: protocol 2, the buffer as a
    Python 2 string, numpy's reconstructor named by its long-standing ``numpy.core`` path (so
    Python 2 / numpy 1 tools read it too)."""
    array = np.asarray(vector, dtype=np.float64).reshape(3, 1)
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(array)
    return buffer.getvalue().replace(b'cnumpy._core.multiarray\n', b'cnumpy.core.multiarray\n')


__all__ = [
    'BOX_PAD_PX', 'BOX_REF_DEPTH_MM', 'CANONICAL_TO_MHP', 'FINGER_CODES', 'HAND21_INDEX',
    'MHP_DIST', 'MHP_IMAGE_SIZE', 'MHP_K', 'MHP_FILE_LAYOUT', 'MHP_LINE_NAMES', 'MHP_POINT_NAMES',
    'MHP_TO_CANONICAL', 'MHP_WEBCAMS', 'MhpFormatError', 'PALM_NORMAL', 'PALM_POSITION',
    'PART_CODES', 'WRIST_ANCHOR', 'WRIST_FACTOR', 'calibration_pickle', 'joints_file_text',
    'load_py2_array', 'padded_keypoint_bbox', 'palm_to_wrist', 'read_calibration',
    'read_joints_file', 'wrist_to_palm']
