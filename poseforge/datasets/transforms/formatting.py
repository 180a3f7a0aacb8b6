"""``PackPoseInputs``: results dict -> ``{'inputs', 'data_samples'}`` (docs/design.md).

mmpose packs into ``PoseDataSample`` objects; poseforge keeps plain dicts (``pose_collate``
stacks the tensors and keeps ``meta`` as a list). ``inputs`` is the crop as uint8 (3, H, W),
made contiguous with one copy; normalisation happens on the device in the model's data
preprocessor.
"""
from __future__ import annotations

import threading
from typing import Sequence

import cv2
import numpy as np
import torch

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.bbox import flip_bbox_xyxy, flip_camera_geometry, flip_points
from poseforge.datasets.transforms.loading import get_image
from poseforge.registry import TRANSFORMS

#: ``meta`` keys (design.md): always-present ones first, then per-dataset extras.
DEFAULT_META_KEYS: tuple[str, ...] = (
    'img_path', 'id', 'img_id', 'bbox', 'bbox_score', 'keypoints', 'keypoints_visible',
    'input_to_image', 'flip_indices', 'input_size', 'transformed_keypoints',
    'head_size', 'keypoints_3d', 'K', 'dist', 'hand_side', 'view_id', 'sequence_id', 'frame_id',
    'area', 'iscrowd', 'num_keypoints', 'category_id')
#: Target keys moved into ``data_samples`` as tensors when present (absent in test mode).
TARGET_KEYS: tuple[str, ...] = ('heatmaps', 'keypoint_weights',
                                 # 3D (GenerateDepthTarget): relative joint depths, their
                                 # weights, the normalised depth map and the (u, v, d) pose
                                 'keypoint_depth', 'keypoint_depth_weights', 'depth_map',
                                 'pose_uvd',
                                 # GeneratePalmTarget: palm towards the camera (1), back (0)
                                 'palm_facing')


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """HWC (or HW) array -> contiguous CHW tensor of the same dtype, in one copy.

    ``cv2.split`` writes the planes straight into a preallocated CHW buffer (SIMD
    de-interleaving, ~8x faster than numpy's strided transpose copy for a 256x256 RGB crop);
    should OpenCV not write in place (an unusual dtype), the transpose copy is used instead.
    """
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, c = img.shape
    dtype = img.dtype
    out = np.empty((c, h, w), dtype=dtype)
    if c > 1:
        parent = padded_parent(img)
        if parent is not None:  # TopdownAffine's RGB view of its RGBX warp: split the RGBX
            # itself, X into a scratch plane (no contiguous RGB copy first)
            source, planes = parent, [*out, _scratch_plane(h, w, dtype)]
        else:
            source, planes = np.ascontiguousarray(img), list(out)
        key = (dtype.str, len(planes))
        in_place = _SPLITS_IN_PLACE.get(key)
        if in_place is not False:
            try:
                written = cv2.split(source, planes)
            except cv2.error:
                written = ()
            if written:
                if in_place is None:  # checked once per (dtype, channels): OpenCV decides by
                    in_place = _SPLITS_IN_PLACE[key] = (  # the type alone whether it fills them
                        len(written) == len(planes) and all(
                            a.ctypes.data == b.ctypes.data for a, b in zip(written, planes)))
                if in_place:
                    return torch.from_numpy(out)
    out[...] = img.transpose(2, 0, 1)
    return torch.from_numpy(out)


def padded_parent(img: np.ndarray) -> np.ndarray | None:
    """The C-contiguous ``(h, w, c + 1)`` array whose first ``c`` channels ``img`` is a view
    of (``rgbx[..., :3]``), or ``None``."""
    parent = img.base
    if (not isinstance(parent, np.ndarray) or parent.ndim != 3 or img.ndim != 3
            or parent.shape[2] != img.shape[2] + 1 or parent.shape[:2] != img.shape[:2]
            or parent.dtype != img.dtype or img.strides != parent.strides
            or not parent.flags.c_contiguous):
        return None
    if img.itemsize == 1 and img.size:  # whether both start at the same byte: two one-byte
        # views overlap exactly then (np.shares_memory on them: a third of ``.ctypes``' cost)
        return parent if np.shares_memory(img[0, 0, :1], parent[0, 0, :1]) else None
    return parent if img.ctypes.data == parent.ctypes.data else None


def contiguous_image(img: np.ndarray) -> np.ndarray:
    """``img`` as a C-contiguous array, for steps that run many passes over it (photometric).

    TopdownAffine hands on the RGB view of its RGBX warp; OpenCV and albumentations would copy
    or take their slow strided paths on it at every operation, so such a view is converted once
    (``cv2.cvtColor``'s SIMD RGBA -> RGB, one pass). Anything else contiguous is returned as is.
    """
    parent = padded_parent(img)
    if parent is not None and parent.shape[2] == 4:
        return cv2.cvtColor(parent, cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(img)


def _scratch_plane(h: int, w: int, dtype: np.dtype) -> np.ndarray:
    """A per-thread ``(h, w)`` plane that ``cv2.split`` writes an unused channel into (never
    read; reused across calls, so no fresh buffer per sample)."""
    planes = getattr(_SCRATCH, 'planes', None)
    if planes is None:
        planes = _SCRATCH.planes = {}
    key = (h, w, dtype)
    plane = planes.get(key)
    if plane is None:
        if len(planes) >= 8:  # a few crop sizes per process; never an unbounded cache
            planes.clear()
        plane = planes[key] = np.empty((h, w), dtype=dtype)
    return plane


_SCRATCH = threading.local()


#: ``(dtype, channels)`` -> whether ``cv2.split`` writes into preallocated planes of that type.
_SPLITS_IN_PLACE: dict[tuple[str, int], bool] = {}


def unflipped_ground_truth(results: dict) -> dict:
    """``keypoints``, ``bbox`` and the camera geometry of a flipped sample mapped back to the
    original image.

    ``input_to_image`` maps into the original (unflipped) image, so ``meta`` must hold the
    ground truth in that frame too (``input_to_image @ transformed_keypoints == keypoints ==
    project(K, keypoints_3d)``, ``hand_side`` the original's). Keypoint order stays the flipped
    one (left/right swapped), matching the targets.
    """
    if not results.get('flip'):
        return {}
    h, w = results['img_shape'][:2]
    direction = results['flip_direction']
    out = {}
    if results.get('keypoints') is not None:
        out['keypoints'] = flip_points(results['keypoints'], (w, h), direction)
    if results.get('bbox') is not None:
        out['bbox'] = flip_bbox_xyxy(results['bbox'], (w, h), direction)
    out.update(flip_camera_geometry(results, (w, h), direction))  # an involution: back again
    return out


@TRANSFORMS.register_module()
class PackPoseInputs(BaseTransform):
    """Pack ``inputs`` (uint8 (3, H, W) tensor) and ``data_samples`` (targets + ``meta``).

    Args:
        meta_keys: results keys copied (as numpy / python values) into ``meta`` when present.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = image_to_tensor(get_image(results))
        get = results.get  # comprehensions over the key lists: no per-key statement dispatch
        data_samples: dict = {key: torch.from_numpy(np.ascontiguousarray(value))
                              for key in TARGET_KEYS if (value := get(key)) is not None}
        meta = {key: value for key in self.meta_keys if (value := get(key)) is not None}
        if get('flip'):
            meta.update({key: value for key, value in unflipped_ground_truth(results).items()
                         if key in meta})
        data_samples['meta'] = meta
        return dict(inputs=inputs, data_samples=data_samples)
