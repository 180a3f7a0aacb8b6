"""Box and flip transforms: ``GetBBoxCenterScale``, ``RandomBBoxTransform``, ``RandomFlip``.

Semantics follow mmpose 1.x (``mmpose/datasets/transforms/common_transforms.py``,
``mmpose/structures/bbox/transforms.py``) for a single instance per sample (our dataset schema):
centres and scales are ``(2,)`` arrays, not mmpose's ``(1, 2)``.

Randomness comes from numpy's global generator (``np.random``), which mmengine seeds per run and
per dataloader worker, so a seeded run is reproducible. Each call draws the same number of
values whether or not an augmentation fires, so one change of probability does not reshuffle
every later draw.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.registry import TRANSFORMS

FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')


# --------------------------------------------------------------------------- flip helpers
def flip_points(points: np.ndarray, image_size: Sequence[int], direction: str) -> np.ndarray:
    """Mirror ``(..., 2)`` points in a ``(w, h)`` image: ``x -> w - 1 - x`` (mmpose's rule)."""
    w, h = image_size
    out = np.array(points, dtype=np.float32, copy=True)
    if direction in ('horizontal', 'diagonal'):  # in place (no temporary per axis)
        np.subtract(w - 1, out[..., 0], out=out[..., 0])
    if direction in ('vertical', 'diagonal'):
        np.subtract(h - 1, out[..., 1], out=out[..., 1])
    return out


def flip_bbox_xyxy(bbox: np.ndarray, image_size: Sequence[int], direction: str) -> np.ndarray:
    """Mirror an ``x1, y1, x2, y2`` box, keeping ``x1 <= x2`` and ``y1 <= y2`` (float32).

    On the four Python floats: ``(w - 1) - x`` of a float32 ``x`` is exact in float64, so one
    rounding to float32 gives :func:`flip_points`' float32 result, for a fraction of the cost
    of the array operations."""
    w, h = image_size
    x1, y1, x2, y2 = np.asarray(bbox, dtype=np.float32).reshape(4).tolist()
    if math.isnan(x1 + y1 + x2 + y2):  # numpy's min / max propagate NaN; Python's do not
        corners = flip_points(np.array([[x1, y1], [x2, y2]], np.float32), image_size, direction)
        return np.concatenate([corners.min(axis=0), corners.max(axis=0)])
    if direction in ('horizontal', 'diagonal'):
        x1, x2 = (w - 1) - x1, (w - 1) - x2
    if direction in ('vertical', 'diagonal'):
        y1, y2 = (h - 1) - y1, (h - 1) - y2
    return np.array([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], dtype=np.float32)


def flip_keypoints(keypoints: np.ndarray, keypoints_visible: np.ndarray | None,
                   image_size: Sequence[int], flip_indices: Sequence[int],
                   direction: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror keypoints and, for a mirror image, swap left/right by ``flip_indices``.

    After a horizontal (or vertical) flip the subject's left side is where its right side was,
    so keypoint ``i`` takes the coordinates of keypoint ``flip_indices[i]``. A 'diagonal' flip is
    a 180-degree rotation, which keeps sides, so it is not reordered (mmpose reorders it too).
    """
    if direction == 'diagonal':
        return flip_points(keypoints, image_size, direction), keypoints_visible
    order = _index_array(flip_indices)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if order.size != keypoints.shape[-2]:
        raise ValueError(f'flip_indices has {order.size} entries for '
                         f'{keypoints.shape[-2]} keypoints')
    # reordered first: the reordered copy is then mirrored in place (the same values as
    # mirroring a copy and reordering it); ``take`` makes the copy that indexing with
    # ``[..., order, :]`` would, at a fraction of its dispatch cost on (K, 2) arrays
    keypoints = keypoints.take(order, axis=-2)
    w, h = image_size
    if direction == 'horizontal':
        np.subtract(w - 1, keypoints[..., 0], out=keypoints[..., 0])
    else:
        np.subtract(h - 1, keypoints[..., 1], out=keypoints[..., 1])
    if keypoints_visible is not None:
        keypoints_visible = np.asarray(keypoints_visible).take(order, axis=-1)
    return keypoints, keypoints_visible


_INDEX_ARRAYS: dict[tuple[int, ...], np.ndarray] = {}


def _index_array(indices: Sequence[int]) -> np.ndarray:
    """``indices`` as a read-only int64 array, made once per distinct list (a skeleton has one
    ``flip_indices``; converting its list costs more than the reordering it serves)."""
    key = tuple(indices)
    order = _INDEX_ARRAYS.get(key)
    if order is None:
        order = np.asarray(key, dtype=np.int64)
        order.flags.writeable = False
        if len(_INDEX_ARRAYS) < 64:  # a handful of skeletons; never an unbounded cache
            _INDEX_ARRAYS[key] = order
    return order


#: Camera-frame axes a flip of the image mirrors (x for horizontal, y for vertical); a
#: 'diagonal' flip (both) is a 180-degree turn about the optical axis, not a mirror.
_MIRRORED_AXES = {'horizontal': (0,), 'vertical': (1,), 'diagonal': (0, 1)}
_OTHER_SIDE = {'left': 'right', 'right': 'left'}
#: The keys :func:`flip_camera_geometry` changes.
_CAMERA_KEYS = ('keypoints_3d', 'K', 'R', 't', 'dist', 'hand_side')


def flip_camera_geometry(results: dict, image_size: Sequence[int], direction: str,
                         flip_indices: Sequence[int] | None = None) -> dict:
    """The 3D quantities of a sample, as seen in the flipped image: a new dict.

    A mirrored image is what a mirrored camera would see: with ``M`` the mirror of the camera
    frame (``x -> -x`` for a horizontal flip) and ``F`` the image flip (``u -> w - 1 - u``),
    ``F K X = (F K M) (M X)``, so

    * ``keypoints_3d`` -> ``M X`` (and reordered by ``flip_indices`` when given, like the 2D
      keypoints: keypoint ``i`` takes the place of ``flip_indices[i]``);
    * ``K`` -> ``F K M`` (still upper triangular with positive focal lengths: ``cx -> w - 1 -
      cx``, the skew changes sign);
    * ``R``, ``t`` (world -> camera) -> ``M R``, ``M t``; ``keypoints_3d_world`` is unchanged
      (the world did not move);
    * ``dist``: the tangential term of the mirrored axis changes sign (``p2`` for x, ``p1`` for
      y); the radial terms are symmetric;
    * ``hand_side``: a mirrored right hand is a left hand (not for 'diagonal', a rotation).

    Only the keys present in ``results`` are returned. The relative depths
    ``z_i - z_root`` are unchanged by any flip.
    """
    out: dict = {}
    for key in _CAMERA_KEYS:  # (a loop, not all() over a generator: a 2D sample's fast exit)
        if results.get(key) is not None:
            break
    else:  # a 2D sample: nothing to flip
        return out
    w, h = image_size
    axes = _MIRRORED_AXES[direction]
    mirror = np.ones(3)
    mirror[list(axes)] = -1.0
    if results.get('keypoints_3d') is not None:
        joints = np.asarray(results['keypoints_3d'], dtype=np.float32) * mirror.astype(np.float32)
        if flip_indices is not None and direction != 'diagonal':
            joints = joints[..., np.asarray(flip_indices, dtype=np.int64), :]
        out['keypoints_3d'] = joints
    if results.get('K') is not None:
        flip = np.eye(3)
        if 0 in axes:
            flip[0, 0], flip[0, 2] = -1.0, w - 1.0
        if 1 in axes:
            flip[1, 1], flip[1, 2] = -1.0, h - 1.0
        K = np.asarray(results['K'], dtype=np.float64)
        out['K'] = (flip @ K @ np.diag(mirror)).astype(np.float32)
    if results.get('R') is not None:
        out['R'] = (np.diag(mirror) @ np.asarray(results['R'], np.float64)).astype(np.float32)
    if results.get('t') is not None:
        out['t'] = (np.asarray(results['t'], np.float64).reshape(3) * mirror).astype(np.float32)
    if results.get('dist') is not None:
        dist = np.array(results['dist'], dtype=np.float32, copy=True).reshape(-1)
        if 0 in axes and dist.size > 3:
            dist[3] = -dist[3]  # p2
        if 1 in axes and dist.size > 2:
            dist[2] = -dist[2]  # p1
        out['dist'] = dist
    side = results.get('hand_side')
    if side is not None and direction != 'diagonal':
        out['hand_side'] = _OTHER_SIDE.get(side, side)
    return out


# --------------------------------------------------------------------------- transforms
def _to_float32(value: float) -> float:
    """``value`` rounded to the nearest float32 (as a Python float)."""
    return float(np.float32(value))


@TRANSFORMS.register_module()
class GetBBoxCenterScale(BaseTransform):
    """``bbox`` (x1, y1, x2, y2) -> ``bbox_center`` (2,) and ``bbox_scale`` (w, h) * padding.

    As in mmpose, an existing ``bbox_center``/``bbox_scale`` pair is kept and only padded.
    """

    def __init__(self, padding: float = 1.25) -> None:
        if not padding > 0:
            raise ValueError(f'GetBBoxCenterScale: padding must be positive, got {padding}')
        self.padding = float(padding)

    def transform(self, results: dict) -> dict:
        if results.get('bbox_center') is not None and results.get('bbox_scale') is not None:
            results['bbox_scale'] = (np.asarray(results['bbox_scale'], dtype=np.float32)
                                     * np.float32(self.padding))
            return results
        # on Python floats, rounded to float32 where numpy's float32 arithmetic rounds (the
        # sum's halving and the product of two float32 values are exact in float64), so the
        # values are numpy's float32 ones; the four sums and differences are rounded in one
        # array conversion (the same rounding as np.float32 of each)
        x1, y1, x2, y2 = np.asarray(results['bbox'], dtype=np.float32).reshape(4).tolist()
        sx, sy, w, h = np.array([x1 + x2, y1 + y2, x2 - x1, y2 - y1], np.float32).tolist()
        padding = _to_float32(self.padding)
        results['bbox_center'] = np.array([sx * 0.5, sy * 0.5], dtype=np.float32)
        results['bbox_scale'] = np.array([w * padding, h * padding], dtype=np.float32)
        return results


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip the sample with probability ``prob``: keypoints, box, centre now; pixels later.

    Writes ``flip`` (bool) and ``flip_direction`` (mmpose's keys) and mirrors ``keypoints``
    (reordered by ``flip_indices``), ``keypoints_visible``, ``bbox`` and ``bbox_center`` in the
    ``img_shape`` frame, and the camera geometry with them (:func:`flip_camera_geometry`):
    ``keypoints_3d``, ``K``, ``dist``, ``R``, ``t`` and ``hand_side`` describe the flipped
    image (a flipped right hand is a left hand with mirrored 3D joints), so a transform after
    this one sees a consistent sample. ``PackPoseInputs`` maps ``meta`` back to the original
    image, as it does for the 2D keypoints. The pixels are *not* flipped here:
    ``flip_pending`` tells ``TopdownAffine`` to fold the flip into its warp (one pass instead
    of mmpose's full-image flip + warp). Anything else that reads the full image gets it flipped via
    :func:`~poseforge.datasets.transforms.loading.get_image`.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomFlip: prob must be in [0, 1], got {prob}')
        if direction not in FLIP_DIRECTIONS:
            raise ValueError(f'RandomFlip: direction must be one of {FLIP_DIRECTIONS}, '
                             f'got {direction!r}')
        self.prob = float(prob)
        self.direction = direction

    def transform(self, results: dict) -> dict:
        do_flip = np.random.random() < self.prob
        results.setdefault('flip', False)
        results.setdefault('flip_direction', None)
        if not do_flip:
            return results
        if results['flip_direction'] not in (None, self.direction):
            raise NotImplementedError('RandomFlip: combining flips in different directions '
                                      'is not supported')
        self.apply(results, self.direction)
        return results

    @staticmethod
    def apply(results: dict, direction: str) -> dict:
        """Flip ``results`` in ``direction`` (deterministic; a second flip undoes the first)."""
        h, w = results['img_shape'][:2]
        size = (w, h)
        if results.get('keypoints') is not None:
            if 'flip_indices' not in results:
                raise KeyError("RandomFlip: 'flip_indices' missing from results (the dataset's "
                               'get_data_info adds it from the skeleton)')
            results['keypoints'], visible = flip_keypoints(
                results['keypoints'], results.get('keypoints_visible'), size,
                results['flip_indices'], direction)
            if visible is not None:
                results['keypoints_visible'] = visible
        if results.get('bbox') is not None:
            results['bbox'] = flip_bbox_xyxy(results['bbox'], size, direction)
        if results.get('bbox_center') is not None:
            results['bbox_center'] = flip_points(results['bbox_center'], size, direction)
        results.update(flip_camera_geometry(results, size, direction,
                                            results.get('flip_indices')))
        # toggles: a second flip in the same direction undoes the first. ``flip_pending``
        # means "the pixels still need this flip to match the coordinates".
        results['flip'] = not results.get('flip', False)
        results['flip_pending'] = not results.get('flip_pending', False)
        results['flip_direction'] = direction
        return results


@TRANSFORMS.register_module()
class RandomBBoxTransform(BaseTransform):
    """Randomly shift, rescale and rotate the box (``bbox_center``, ``bbox_scale``).

    Each with its own probability: shift by ``uniform(-1, 1) * shift_factor * bbox_scale`` per
    axis; scale by ``uniform(*scale_factor)``; rotate by
    ``clip(normal(0, rotate_factor), -2 * rotate_factor, 2 * rotate_factor)`` degrees, written to
    ``bbox_rotation`` (0 when not rotated). Defaults are mmpose 1.x's; the shift and scale
    distributions are uniform and the rotation a clipped normal (mmpose 0.x style; mmpose 1.x
    draws all three from a normal truncated to +-1 factor), which spends more samples on
    large changes.
    """

    def __init__(self, shift_factor: float = 0.16, shift_prob: float = 0.3,
                 scale_factor: Sequence[float] | float = (0.5, 1.5), scale_prob: float = 1.0,
                 rotate_factor: float = 80.0, rotate_prob: float = 0.6) -> None:
        if isinstance(scale_factor, (int, float)):
            scale_factor = (1.0 - scale_factor, 1.0 + scale_factor)
        lo, hi = (float(v) for v in scale_factor)
        if not 0 < lo <= hi:
            raise ValueError(f'RandomBBoxTransform: scale_factor must be (low, high) with '
                             f'0 < low <= high, got {scale_factor!r}')
        for name, p in (('shift_prob', shift_prob), ('scale_prob', scale_prob),
                        ('rotate_prob', rotate_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f'RandomBBoxTransform: {name} must be in [0, 1], got {p}')
        self.shift_factor = float(shift_factor)
        self.shift_prob = float(shift_prob)
        self.scale_factor = (lo, hi)
        self.scale_prob = float(scale_prob)
        self.rotate_factor = float(rotate_factor)
        self.rotate_prob = float(rotate_prob)

    def sample(self) -> tuple[np.ndarray, float, float]:
        """``(shift (2,) in units of bbox_scale, scale multiplier, rotation deg)``."""
        sx, sy, scale, rotate = self._draw()
        return np.array([sx, sy]), scale, rotate

    def _draw(self) -> tuple[float, float, float, float]:
        """:meth:`sample` as four Python floats ``(shift x, shift y, scale, rotation)``: the
        same values (float64 arithmetic either way), without the shift's array."""
        # The same draws, in the same order, whichever augmentations fire: three gates, the
        # shift's uniform(-1, 1, 2) and the scale's uniform(low, high) are six consecutive
        # doubles of the global RandomState, taken in one call (its uniform is
        # ``low + (high - low) * random()``, a frozen legacy stream; tested), then the normal.
        shift_gate, scale_gate, rotate_gate, u_x, u_y, u_scale = np.random.random(6).tolist()
        low, high = self.scale_factor
        scale = low + (high - low) * u_scale
        limit = 2.0 * self.rotate_factor  # clipped with Python floats: np.clip on a scalar
        rotate = min(max(np.random.normal() * self.rotate_factor, -limit), limit)  # is ~10 us
        if shift_gate < self.shift_prob:
            sx, sy = (-1.0 + 2.0 * u_x) * self.shift_factor, (-1.0 + 2.0 * u_y) * self.shift_factor
        else:
            sx = sy = 0.0
        return (sx, sy, scale if scale_gate < self.scale_prob else 1.0,
                float(rotate) if rotate_gate < self.rotate_prob else 0.0)

    def transform(self, results: dict) -> dict:
        sx, sy, scale, rotate = self._draw()
        bw, bh = np.asarray(results['bbox_scale'], dtype=np.float32).reshape(2).tolist()
        cx, cy = np.asarray(results['bbox_center'], dtype=np.float32).reshape(2).tolist()
        # Python floats with numpy's roundings: the centre is float64 arithmetic rounded once
        # to float32, the scale a float32 product (numpy 2 multiplies a float32 array by a
        # Python float in float32; the product of two float32 values is exact in float64)
        scale = _to_float32(scale)
        results['bbox_center'] = np.array([cx + sx * bw, cy + sy * bh], dtype=np.float32)
        results['bbox_scale'] = np.array([bw * scale, bh * scale], dtype=np.float32)
        results['bbox_rotation'] = float(results.get('bbox_rotation', 0.0)) + rotate
        return results
