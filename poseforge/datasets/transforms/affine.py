"""``TopdownAffine``: one warp from the decoded image to the model input, plus matrix helpers.

mmpose's top-down pipeline flips the whole image in ``RandomFlip`` and then warps it in
``TopdownAffine`` (``mmpose/datasets/transforms/topdown_transforms.py``). Here every geometric
step is an affine map composed into a single ``cv2.warpAffine`` straight from the decoded
(possibly 1/2-1/8 size, see ``loading.py``) image:

    input px  <-  crop (centre, scale, rotation)  <-  flip (deferred by RandomFlip)
              <-  JPEG reduction (deferred by LoadImage(reduce='auto'))  <-  decoded px

so the full image is never flipped, copied or colour-converted. The result equals flipping the
full image and then warping it, up to interpolation.

Conventions (mmpose's ``get_warp_matrix``): pixel centres at integer coordinates; the box centre
maps to ``(w / 2, h / 2)``; the scale is ``input_w / bbox_scale_w`` on both axes after
:func:`fix_aspect_ratio`; a positive rotation turns the image content anticlockwise on screen.
With ``use_udp`` (UDP, Huang et al. 2020) the centre maps to ``((w - 1) / 2, (h - 1) / 2)`` and
each axis scales by ``(size - 1) / bbox_scale``; unlike mmpose's ``get_udp_warp_matrix``, which
rotates the other way round, the rotation sense is the same as without UDP.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.jpeg_region import (decode_region, needed_box,
                                                       needed_box_of, orientation_matrix)
from poseforge.datasets.transforms.loading import REDUCE_FACTORS, EncodedImage
from poseforge.registry import TRANSFORMS


# --------------------------------------------------------------------------- matrix helpers
def fix_aspect_ratio(bbox_scale: np.ndarray | Sequence[float],
                     aspect_ratio: float) -> np.ndarray:
    """Grow the box ``(w, h)`` (never shrink it) to ``w / h == aspect_ratio`` (mmpose's rule)."""
    w, h = float(bbox_scale[0]), float(bbox_scale[1])
    if w > h * aspect_ratio:
        return np.array([w, w / aspect_ratio], dtype=np.float32)
    return np.array([h * aspect_ratio, h], dtype=np.float32)


def get_warp_matrix(center: Sequence[float], scale: Sequence[float], rot: float,
                    output_size: Sequence[int], use_udp: bool = False) -> np.ndarray:
    """2x3 float64 affine mapping image px to output px for a box ``center``/``scale`` (w, h).

    The closed form of mmpose's three-point construction (``get_warp_matrix``), so no
    ``cv2.getAffineTransform`` round trip in float32; ``use_udp`` gives the UDP variant.
    """
    return _matrix(_warp_affine(float(center[0]), float(center[1]), float(scale[0]),
                                float(scale[1]), float(rot), output_size, use_udp))


#: A 2-D affine map as six Python floats ``(a, b, tx, c, d, ty)``: ``x' = a x + b y + tx``,
#: ``y' = c x + d y + ty``. ``TopdownAffine`` composes its per-sample maps in this form: a few
#: float multiplications each, where a 3x3 numpy product costs about a microsecond.
Affine = tuple[float, float, float, float, float, float]


def _warp_affine(cx: float, cy: float, sw: float, sh: float, rot: float,
                 output_size: Sequence[int], use_udp: bool) -> Affine:
    """:func:`get_warp_matrix` as an :data:`Affine` (the same float operations)."""
    theta = math.radians(rot)
    cos, sin = math.cos(theta), math.sin(theta)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    if use_udp:
        sx, sy = (out_w - 1) / sw, (out_h - 1) / sh
        tx, ty = (out_w - 1) / 2, (out_h - 1) / 2
    else:
        sx = sy = out_w / sw
        tx, ty = out_w / 2, out_h / 2
    a, b = sx * cos, sx * sin
    c, d = -sy * sin, sy * cos
    return a, b, tx - a * cx - b * cy, c, d, ty - c * cx - d * cy


def _compose(m: Affine, n: Affine) -> Affine:
    """``m`` after ``n`` (the product ``M @ N`` of their 3x3 forms)."""
    a, b, tx, c, d, ty = m
    e, f, ux, g, h, uy = n
    return (a * e + b * g, a * f + b * h, a * ux + b * uy + tx,
            c * e + d * g, c * f + d * h, c * ux + d * uy + ty)


def _as_affine(matrix: np.ndarray) -> Affine:
    """The :data:`Affine` of a 2x3 or 3x3 matrix."""
    (a, b, tx), (c, d, ty) = np.asarray(matrix, dtype=np.float64)[:2].tolist()
    return a, b, tx, c, d, ty


def _flip_affine(direction: str, width: int, height: int) -> Affine:
    """:func:`flip_matrix` as an :data:`Affine`."""
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'unknown flip direction {direction!r}')
    mirror_x = direction in ('horizontal', 'diagonal')
    mirror_y = direction in ('vertical', 'diagonal')
    return ((-1.0, 0.0, width - 1.0) if mirror_x else (1.0, 0.0, 0.0)) + \
        ((0.0, -1.0, height - 1.0) if mirror_y else (0.0, 1.0, 0.0))


def _invert(m: Affine) -> Affine:
    """Inverse of an :data:`Affine` (``ValueError`` when singular)."""
    a, b, tx, c, d, ty = m
    det = a * d - b * c
    if det == 0:
        raise ValueError('affine matrix is singular (zero-size box?)')
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return ia, ib, -(ia * tx + ib * ty), ic, id_, -(ic * tx + id_ * ty)


def to_3x3(matrix: np.ndarray) -> np.ndarray:
    """Homogeneous 3x3 form of a 2x3 affine (float64)."""
    return np.concatenate((matrix, _LAST_ROW), axis=0, dtype=np.float64)


_LAST_ROW = np.array([[0.0, 0.0, 1.0]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine, as 2x3 float64 (closed form; no LAPACK call per sample)."""
    return _matrix(_invert(_as_affine(matrix)))


def flip_matrix(direction: str, image_size: Sequence[int]) -> np.ndarray:
    """3x3 affine of a flip of a ``(w, h)`` image: ``x -> w - 1 - x`` (horizontal) etc."""
    return to_3x3(_matrix(_flip_affine(direction, *image_size)))


def reduction_matrix(factor: int) -> np.ndarray:
    """3x3 map from a ``1/factor`` decoded image's px to full-size px (libjpeg's sampling)."""
    offset = (factor - 1) / 2.0
    return np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1]], dtype=np.float64)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to ``(..., 2)`` points (float64 maths, float32 result)."""
    pts = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def max_reduction(matrix: np.ndarray, max_factor: int = 8) -> int:
    """Largest decode reduction (1, 2, 4, 8) that does not lose detail the warp would keep.

    The warp's largest singular value is the output px per source px along the least
    downsampled direction; decoding at ``1/k`` is harmless while ``k * that <= 1``.
    """
    a, b, _, c, d, _ = _as_affine(matrix)
    return _max_reduction(a, b, c, d, max_factor)


_FACTORS_DESCENDING = tuple(sorted(REDUCE_FACTORS, reverse=True))


def _max_reduction(a: float, b: float, c: float, d: float, max_factor: int) -> int:
    frob = a * a + b * b + c * c + d * d
    det = a * d - b * c
    stretch = math.sqrt(0.5 * (frob + math.sqrt(max(frob * frob - 4 * det * det, 0.0))))
    for factor in _FACTORS_DESCENDING:
        if factor <= max_factor and factor * stretch <= 1.0 + 1e-9:
            return factor
    return 1



def rgbx_box(img: np.ndarray, matrix: np.ndarray,
             output_size: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """For an RGB uint8 ``img``: the box a bilinear warp by ``matrix`` to ``output_size`` reads,
    as RGBX, and the matrix from its px. OpenCV's ``warpAffine`` has a SIMD path for four 8-bit
    channels that three lack (about 2x faster at 256-368 px crops); converting the box costs
    ~0.13 ms per Mpx here, far less. The warped values are the same per channel."""
    box = needed_box(matrix, output_size, (img.shape[1], img.shape[0]))
    if box is None:  # the crop lies wholly outside the image: all border
        return np.zeros((1, 1, 4), np.uint8), matrix
    x0, y0, x1, y1 = box
    part = cv2.cvtColor(img[y0:y1 + 1, x0:x1 + 1], cv2.COLOR_RGB2RGBA)
    offset = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    return part, matrix @ offset


# --------------------------------------------------------------------------- the transform
@TRANSFORMS.register_module()
class TopdownAffine(BaseTransform):
    """Crop the box (``bbox_center``, ``bbox_scale``, ``bbox_rotation``) to ``input_size``.

    Reads ``img`` or a deferred ``encoded_img``, ``flip``/``flip_pending``/``flip_direction``
    (from ``RandomFlip``), ``keypoints`` (optional). Writes ``img`` (the crop, RGB, like the
    source; for uint8 RGB it is the RGB view of the four-channel warp's output, so it is not
    C-contiguous: ``np.ascontiguousarray`` it where a library needs that, as OpenCV's Python
    bindings do for input arrays by themselves), ``bbox_scale`` fixed to the input aspect
    ratio, ``transformed_keypoints`` (K, 2) input px, ``input_size`` ``(w, h)``,
    ``input_center``/``input_scale`` (mmpose's names) and ``input_to_image`` (2, 3) float32:
    input px -> original, *unflipped* image px, so predictions map straight back to the image
    (for a flipped sample it includes the flip).

    Args:
        input_size: model input ``(w, h)``.
        use_udp: UDP warp (see the module docstring).
        max_reduce: cap on the deferred-decode reduction factor (1 disables it here).
    """

    def __init__(self, input_size: Sequence[int], use_udp: bool = False,
                 max_reduce: int = 8) -> None:
        if len(input_size) != 2 or any(int(v) != v or v <= 0 for v in input_size):
            raise ValueError(f'TopdownAffine: input_size must be two positive integers '
                             f'(w, h), got {input_size!r}')
        if max_reduce not in REDUCE_FACTORS:
            raise ValueError(f'TopdownAffine: max_reduce must be one of {REDUCE_FACTORS}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = bool(use_udp)
        self.max_reduce = int(max_reduce)

    def crop_matrix(self, results: dict) -> np.ndarray:
        """2x3 map from (flipped, if flipped) image px to input px; fixes ``bbox_scale``."""
        return _matrix(self._crop_affine(results))

    def _crop_affine(self, results: dict) -> Affine:
        """:meth:`crop_matrix` as an :data:`Affine`; writes ``bbox_scale`` (fixed to the input
        aspect ratio, :func:`fix_aspect_ratio`), ``input_center`` and ``input_scale``."""
        w, h = self.input_size
        center = np.asarray(results['bbox_center'], dtype=np.float32).reshape(2)
        box_w, box_h = np.asarray(results['bbox_scale']).reshape(2).tolist()
        scale = fix_aspect_ratio((box_w, box_h), w / h)
        rotation = results.get('bbox_rotation', 0.0)
        rotation = (rotation if type(rotation) is float  # noqa: E721 (the common case, fast)
                    else float(np.asarray(rotation).reshape(-1)[0]))
        # checked on Python floats (a few us per sample less than numpy's reductions)
        (cx, cy), (sw, sh) = center.tolist(), scale.tolist()
        if not (math.isfinite(cx) and math.isfinite(cy) and math.isfinite(rotation)
                and math.isfinite(sw) and math.isfinite(sh) and sw > 0 and sh > 0):
            # ValueError: the dataset skips such a sample in training and raises in test mode
            raise ValueError(f'TopdownAffine: degenerate box (centre {center.tolist()}, '
                             f'scale {scale.tolist()}, rotation {rotation})')
        results['bbox_scale'] = scale
        results['input_center'] = center
        results['input_scale'] = scale
        return _warp_affine(cx, cy, sw, sh, rotation, self.input_size, self.use_udp)

    def _source(self, results: dict, matrix: Affine) -> tuple[np.ndarray, Affine, bool]:
        """The pixels to warp, the map from their px to input px, and whether the pixels are
        RGBX standing for RGB (the X to be dropped after the warp).

        A deferred JPEG is decoded here at the largest reduction the warp allows, only the
        region the warp reads (``jpeg_region``; RGBX), and the reduction, the region's offset
        and the EXIF orientation are folded into the matrix. Without libturbojpeg, or for a
        JPEG it refuses, OpenCV decodes the whole image at that reduction. An RGB uint8 image
        is handed on as the RGBX copy of the box the warp reads (:func:`rgbx_box`).
        """
        encoded: EncodedImage | None = results.pop('encoded_img', None)
        img = results.get('img')
        if img is None:
            if encoded is None:
                raise KeyError("TopdownAffine: no 'img' in results: put LoadImage first")
            a, b, _, c, d, _ = matrix
            factor = _max_reduction(a, b, c, d, self.max_reduce)
            if not encoded.to_float32:
                stored = (encoded.width, encoded.height)  # as in the file: EXIF not applied
                from_stored = (matrix if encoded.orientation == 1 else _compose(
                    matrix, _as_affine(orientation_matrix(encoded.orientation, stored))))
                box = needed_box_of(*from_stored, self.input_size, stored)
                if box is None:  # the crop lies wholly outside the image: all border
                    return np.zeros((1, 1, 4), np.uint8), matrix, True
                region = decode_region(encoded.data, box, factor)
                if region is not None:
                    return region.pixels, _compose(from_stored, region.to_image_affine()), True
            img, factor = encoded.decode_reduced(factor)
            matrix = _compose(matrix, _as_affine(reduction_matrix(factor)))
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            return img, matrix, False
        part, from_part = rgbx_box(img, to_3x3(_matrix(matrix)), self.input_size)
        return part, _as_affine(from_part), True

    def transform(self, results: dict) -> dict:
        # every map here is an Affine of Python floats, made a numpy array only where OpenCV or
        # the results need one
        crop = self._crop_affine(results)
        img_h, img_w = results['img_shape'][:2]
        direction = results.get('flip_direction')
        flipped, pending = results.get('flip'), results.get('flip_pending')
        flip = (_flip_affine(direction, img_w, img_h) if direction and (flipped or pending)
                else None)
        flipped_crop = _compose(crop, flip) if flip is not None else crop
        # original image px -> input px (the flip is part of it whenever the sample is flipped)
        image_to_input = flipped_crop if flipped else crop
        results['input_to_image'] = _matrix(_invert(image_to_input), np.float32)

        # source px (what cv2 will read) -> input px
        source_to_input = flipped_crop if pending else crop
        source, source_to_input, rgbx = self._source(results, source_to_input)
        warped = cv2.warpAffine(source, _matrix(source_to_input), self.input_size,
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=0)
        # RGBX: the crop is its RGB channels, a view (pixel stride 4) rather than a converted
        # copy; PackPoseInputs splits the planes straight from the RGBX buffer
        results['img'] = warped[..., :3] if rgbx else warped
        results['flip_pending'] = False

        keypoints = results.get('keypoints')
        if keypoints is not None:
            results['transformed_keypoints'] = transform_points(
                np.asarray(keypoints)[..., :2], _matrix(crop))
        results['input_size'] = self.input_size
        return results


def _matrix(m: Affine, dtype: type = np.float64) -> np.ndarray:
    """The 2x3 array of an :data:`Affine`."""
    return np.array(((m[0], m[1], m[2]), (m[3], m[4], m[5])), dtype=dtype)
