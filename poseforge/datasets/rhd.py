"""RHD, the Rendered Hand Pose Dataset (Zimmermann and Brox, "Learning to Estimate 3D Hand Pose
from Single RGB Images", ICCV 2017): mmpose's COCO-style json or the original pickle.

RHD labels each hand as the wrist, then thumb, index, middle, ring and little finger, each from
the **tip** to the MCP (so RHD 1 is the thumb tip); poseforge's ``hand21`` runs every finger
root -> tip. :data:`KEYPOINT_ORDER` (``KEYPOINT_ORDER[i]`` = RHD index of ``hand21`` joint
``i``) is the one place this is written; both readers apply it to the 2D and the 3D points.

* ``json``: mmpose's ``annotations/rhd_{train,test}.json``: ``keypoints`` 21 x ``[x, y, v]`` in
  RHD's order, ``joint_cam`` 21 x 3 in millimetres in the camera frame (the fixture's points
  project onto its ``keypoints`` with ``cam_param``), ``hand_type``, and per image
  ``cam_param`` ``{focal: [fx, fy], princpt: [cx, cy]}``, from which ``K`` is built.
* ``pickle``: the release's ``{training,evaluation}/anno_{training,evaluation}.pickle``, a dict
  sample id -> ``uv_vis`` (42 x 3: u, v, visible), ``xyz`` (42 x 3, metres, camera frame),
  ``K`` (3 x 3); rows 0-20 are the left hand, 21-41 the right. Images are
  ``color/%05d.png`` beside the pickle (the default ``data_prefix['img']``).

Pickle rules (mmpose's conversion kept the visible hands but its script is not public):

* each hand is its own instance (``hand_side`` ``'left'``/``'right'``, ``id = 2 * sample id
  + (0 left, 1 right)``, ``img_id`` = sample id), kept when at least ``min_visible_keypoints``
  (default :data:`MIN_VISIBLE_KEYPOINTS` = 10, about half the hand) of its keypoints are flagged
  visible and lie inside the 320 x 320 image; fewer give a box around a fragment of a hand (1
  keeps every hand in view). Left-out hands are counted in the log.
* ``keypoints_visible`` is RHD's visibility flag; ``keypoints_3d`` is ``xyz`` in millimetres.
* the box is :data:`BBOX_SCALE` (1.2) times the tight box of the visible keypoints, about its
  centre, not clipped: exactly how the boxes of mmpose's json relate to its keypoints (checked on
  the fixture, where every point is visible).

The pickle is read by an unpickler that builds only numpy arrays, dicts and lists, so a
tampered file cannot run code. :func:`decode_rhd_depth` / :func:`read_rhd_depth` and
:func:`rhd_hand_masks` decode the release's depth and segmentation PNGs (hand3d's rules).
"""
from __future__ import annotations

import os.path as osp
import pickle
from typing import Any, Callable

import cv2
import numpy as np

from poseforge.datasets.base import DatasetError, instance
from poseforge.datasets.coco_style import Fail, as_array
from poseforge.datasets.multi_format import MultiFormatHandDataset, keypoint_bbox, log_dropped
from poseforge.registry import DATASETS

__all__ = ['RhdDataset', 'KEYPOINT_ORDER', 'decode_rhd_depth', 'read_rhd_depth',
           'rhd_hand_masks', 'load_rhd_pickle', 'intrinsics_from_cam_param']

#: ``KEYPOINT_ORDER[i]`` = RHD index of ``hand21`` joint ``i`` (wrist, then each finger's
#: four RHD joints reversed: tip -> MCP becomes MCP -> tip).
KEYPOINT_ORDER: tuple[int, ...] = (0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13,
                                   20, 19, 18, 17)
NUM_KEYPOINTS = 21
HAND_SIDES = ('left', 'right')  # uv_vis / xyz rows 0-20 and 21-41
IMAGE_SIZE = 320  # every RHD image is 320 x 320
BBOX_SCALE = 1.2
MIN_VISIBLE_KEYPOINTS = 10
#: Depth PNG: metres = (R * 256 + G) / (2**16 - 1) * DEPTH_MAX_M (hand3d's decoding).
DEPTH_MAX_M = 5.0
#: Segmentation PNG classes: 0 background, 1 person, 2-17 left hand, 18-33 right hand.
LEFT_HAND_CLASSES = (2, 17)
RIGHT_HAND_CLASSES = (18, 33)


# --------------------------------------------------------------------------- image helpers
def decode_rhd_depth(depth_png: np.ndarray, channel_order: str = 'rgb') -> np.ndarray:
    """RHD depth PNG pixels -> depth in metres, ``(R * 256 + G) / (2**16 - 1) * 5``.

    Args:
        depth_png: ``(H, W, 3)`` (or 4) uint8 image.
        channel_order: ``'rgb'`` for an RGB array (PIL, imageio), ``'bgr'`` for
            ``cv2.imread``'s, where R is the last channel.

    Returns:
        ``(H, W)`` float32 metres.
    """
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    image = np.asarray(depth_png)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f'RHD depth must be an (H, W, 3) colour image, got shape {image.shape}')
    red, green = (0, 1) if channel_order == 'rgb' else (2, 1)
    coded = image[..., red].astype(np.float32) * 256 + image[..., green].astype(np.float32)
    return coded * np.float32(DEPTH_MAX_M / (2 ** 16 - 1))


def read_rhd_depth(path: str) -> np.ndarray:
    """Read ``depth/%05d.png`` with OpenCV (BGR) and decode it to metres ``(H, W)``."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read RHD depth image '{path}'")
    return decode_rhd_depth(image, channel_order='bgr')


def rhd_hand_masks(mask_png: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)`` boolean hand masks of an RHD ``mask/%05d.png`` (classes 2-17 are the
    left hand, 18-33 the right; hand3d's convention). A colour-read mask uses channel 0."""
    mask = np.asarray(mask_png)
    if mask.ndim == 3:
        mask = mask[..., 0]
    left = (mask >= LEFT_HAND_CLASSES[0]) & (mask <= LEFT_HAND_CLASSES[1])
    right = (mask >= RIGHT_HAND_CLASSES[0]) & (mask <= RIGHT_HAND_CLASSES[1])
    return left, right


def intrinsics_from_cam_param(cam_param: dict, fail: Fail) -> np.ndarray:
    """``K`` (3, 3) from mmpose's ``{focal: [fx, fy], princpt: [cx, cy]}``."""
    if not isinstance(cam_param, dict) or 'focal' not in cam_param or 'princpt' not in cam_param:
        raise fail("cam_param needs 'focal' and 'princpt'")
    fx, fy = as_array(cam_param['focal'], (2,), 'cam_param.focal', fail)
    cx, cy = as_array(cam_param['princpt'], (2,), 'cam_param.princpt', fail)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------- pickle
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts, lists and scalars only; anything else is refused, so
    loading an annotation file never runs code. ``numpy.core`` (what Python-2-era files name)
    is read as numpy 2's ``numpy._core``."""

    ALLOWED = {('numpy.core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
               ('numpy.core.numeric', '_frombuffer'), ('numpy', 'ndarray'), ('numpy', 'dtype'),
               ('collections', 'OrderedDict'),
               ('_codecs', 'encode')}  # how protocol-2 files written by Python 3 store bytes

    def find_class(self, module: str, name: str) -> Any:
        canonical = module.replace('numpy._core', 'numpy.core', 1)
        if (canonical, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'refusing to load {module}.{name}: an RHD annotation '
                                         'holds only arrays, dicts and numbers')
        if canonical.startswith('numpy.core') and hasattr(np, '_core'):
            module = canonical.replace('numpy.core', 'numpy._core', 1)
        return super().find_class(module, name)


def load_rhd_pickle(path: str) -> dict:
    """The release pickle as a dict (Python 2 files too: ``encoding='latin1'``)."""
    try:
        with open(path, 'rb') as f:
            data = _ArrayUnpickler(f, encoding='latin1').load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DatasetError(f"RhdDataset: '{path}': not a readable RHD annotation pickle "
                           f'({err})') from None
    if not isinstance(data, dict):
        raise DatasetError(f"RhdDataset: '{path}': expected a dict sample id -> "
                           f'{{uv_vis, xyz, K}}, got {type(data).__name__}')
    return data


def stack_records(data: dict, fail_for: Callable[[Any], Fail]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample ids ``(N,)``, ``uv_vis (N, 42, 3)``, ``xyz (N, 42, 3)``, ``K (N, 3, 3)``, each
    record checked (``fail_for(sample_id)`` makes the error naming it)."""
    ids, uv_vis, xyz, intrinsics = [], [], [], []
    for sample_id, record in data.items():
        fail = fail_for(sample_id)
        if not isinstance(sample_id, (int, np.integer)):
            raise fail('sample ids must be integers')
        if not isinstance(record, dict):
            raise fail(f'record is a {type(record).__name__}, expected a dict with uv_vis, '
                       'xyz and K')
        for key in ('uv_vis', 'xyz', 'K'):
            if key not in record:
                raise fail(f"missing '{key}'")
        ids.append(int(sample_id))
        uv_vis.append(as_array(record['uv_vis'], (2 * NUM_KEYPOINTS, 3), 'uv_vis', fail))
        xyz.append(as_array(record['xyz'], (2 * NUM_KEYPOINTS, 3), 'xyz', fail))
        intrinsics.append(as_array(record['K'], (3, 3), 'K', fail))
    if not ids:
        return (np.zeros(0, np.int64), np.zeros((0, 42, 3)), np.zeros((0, 42, 3)),
                np.zeros((0, 3, 3)))
    return np.asarray(ids), np.stack(uv_vis), np.stack(xyz), np.stack(intrinsics)


# --------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class RhdDataset(MultiFormatHandDataset):
    """RHD, ``hand21`` (reordered from RHD's tip -> MCP), with ``keypoints_3d`` (mm), ``K`` and
    ``hand_side``, from mmpose's json or the release pickle.

    Args:
        ann_file: the json, ``anno_*.pickle`` (``.pickle``/``.pkl``), or a ``training`` /
            ``evaluation`` folder holding its ``anno_<folder>.pickle``.
        data_root: dataset root.
        data_prefix: ``dict(img=...)``. Left out: the dataset root for the json, the ``color``
            folder beside the pickle.
        format: ``'auto'`` (from the extension), ``'json'`` or ``'pickle'``.
        min_visible_keypoints: pickle only: a hand needs this many visible in-image keypoints.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'
    KEYPOINT_ORDER = KEYPOINT_ORDER
    FORMATS = ('auto', 'json', 'pickle')
    EXTENSIONS = {'.json': 'json', '.pickle': 'pickle', '.pkl': 'pickle'}
    LAYOUT = ("RHD's release layout ({training,evaluation}/anno_{training,evaluation}.pickle "
              'beside {training,evaluation}/color/%05d.png) or mmpose\'s '
              'annotations/rhd_{train,test}.json')

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 format: str = 'auto', min_visible_keypoints: int = MIN_VISIBLE_KEYPOINTS,
                 **kwargs: Any) -> None:
        if not 1 <= int(min_visible_keypoints) <= NUM_KEYPOINTS:
            raise ValueError(f'RhdDataset: min_visible_keypoints must be in 1..{NUM_KEYPOINTS}, '
                             f'got {min_visible_keypoints}')
        self.min_visible_keypoints = int(min_visible_keypoints)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         format=format, **kwargs)

    def annotation_in_folder(self, folder: str) -> str:
        split = osp.basename(osp.normpath(folder))
        inner = osp.join(folder, f'anno_{split}.pickle')
        if not osp.isfile(inner):
            raise self.layout_error(f"folder '{folder}' has no anno_{split}.pickle")
        return inner

    # ------------------------------------------------------------------ json
    def image_extras(self, image: dict, fail: Fail) -> dict:
        if 'cam_param' not in image:
            return {}
        return dict(K=intrinsics_from_cam_param(image['cam_param'], fail))

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        extra: dict[str, Any] = {}
        if 'joint_cam' in ann:
            joints = as_array(ann['joint_cam'], (NUM_KEYPOINTS, 3), 'joint_cam', fail)
            extra['keypoints_3d'] = joints[np.asarray(KEYPOINT_ORDER)]
        if 'hand_type' in ann:
            if ann['hand_type'] not in HAND_SIDES:
                raise fail(f"hand_type must be 'left' or 'right', got {ann['hand_type']!r}")
            extra['hand_side'] = ann['hand_type']
        return extra

    # ------------------------------------------------------------------ pickle
    def load_original(self, fmt: str) -> list[dict]:
        """Both hands of every sample, each kept by the visibility rule (module doc)."""
        folder = self.image_folder(osp.join(osp.dirname(self.ann_file), 'color'))
        data = load_rhd_pickle(self.ann_file)

        def fail_for(sample_id):
            return lambda message: DatasetError(
                f"RhdDataset: '{self.ann_file}': sample {sample_id!r}: {message}")

        ids, uv_vis, xyz, intrinsics = stack_records(data, fail_for)
        order = np.asarray(KEYPOINT_ORDER)
        # (N, 2 hands, 21, ...) in hand21 order
        hands_uv = uv_vis.reshape(-1, 2, NUM_KEYPOINTS, 3)[:, :, order]
        hands_xyz_mm = xyz.reshape(-1, 2, NUM_KEYPOINTS, 3)[:, :, order] * 1000.0
        visible = hands_uv[..., 2] > 0
        inside = ((hands_uv[..., :2] >= 0) & (hands_uv[..., :2] < IMAGE_SIZE)).all(axis=-1)
        keep = (visible & inside).sum(axis=-1) >= self.min_visible_keypoints  # (N, 2)
        boxes = keypoint_bbox(hands_uv[..., :2].reshape(-1, NUM_KEYPOINTS, 2),
                              visible.reshape(-1, NUM_KEYPOINTS), BBOX_SCALE).reshape(-1, 2, 4)
        entries = []
        for n, side in zip(*np.nonzero(keep)):
            sample_id = int(ids[n])
            entries.append(instance(
                osp.join(folder, f'{sample_id:05d}.png'), sample_id, 2 * sample_id + side,
                boxes[n, side], hands_uv[n, side, :, :2], visible[n, side],
                keypoints_3d=hands_xyz_mm[n, side], K=intrinsics[n],
                hand_side=HAND_SIDES[side]))
        log_dropped(self, keep.size - len(entries), keep.size,
                    f'fewer than {self.min_visible_keypoints} visible keypoints in the image')
        return entries
