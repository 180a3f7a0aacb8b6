"""Depth maps and relative-depth targets for 3D hand models: ``LoadDepth``,
``GenerateDepthTarget``.

``LoadDepth`` reads a sample's depth image into ``results['depth']`` (float32 mm, 0 = no
surface) in the **original image frame**, whatever else the pipeline did before: flips and
crops are not applied to it in place. ``GenerateDepthTarget`` (after ``TopdownAffine``) crops it
with the sample's ``input_to_image`` (which includes a flip ``RandomFlip`` made, and every
shift / scale / rotation), so the depth map always lines up with the RGB crop, wherever
``LoadDepth`` sits in the pipeline.

Formats (``LoadDepth(format=...)``):

* ``'mm_png'``: 16-bit PNG in millimetres, 0 = no surface (the generator's ``depth/``);
* ``'rhd'``: RHD's colour-coded PNG, ``(R * 256 + G) / (2^16 - 1) * 5`` m
  (:func:`poseforge.datasets.rhd.read_rhd_depth`);
* ``'stb'``: STB's ``SK_depth_i.png`` (``R + 256 G`` mm), taken by the RealSense *depth*
  camera: it is re-projected into the colour camera (:func:`register_stb_depth`) so that it lines
  up with ``SK_color_i.png`` and the labels.

MHP ships no depth: 3D configs on MHP use the generated depth of a GAN trained elsewhere
(``configs/dggan/``).
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.target import build_codec
from poseforge.registry import TRANSFORMS

__all__ = ['LoadDepth', 'GenerateDepthTarget', 'read_mm_png', 'register_stb_depth',
           'crop_depth']

DEPTH_FORMATS = ('mm_png', 'rhd', 'stb')


def read_mm_png(path: str) -> np.ndarray:
    """A 16-bit PNG of millimetres -> float32 ``(H, W)`` mm."""
    depth = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise OSError(f"cannot read depth image '{path}'")
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ValueError(f"depth image '{path}' is not a single-channel 16-bit PNG (shape "
                         f'{depth.shape}, {depth.dtype}); LoadDepth(format=...) reads '
                         f'{DEPTH_FORMATS}')
    return depth.astype(np.float32)


def register_stb_depth(depth_mm: np.ndarray, K_depth: np.ndarray | None = None,
                       K_color: np.ndarray | None = None, rvec: np.ndarray | None = None,
                       T: np.ndarray | None = None,
                       out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Re-project a depth camera's map into the colour camera (z-buffered forward splat).

    Every valid depth pixel is lifted to 3D with ``K_depth``, moved into the colour frame with
    STB's ``X_color = R^T (X - T)`` and splatted onto the 2 x 2 colour pixels around its
    projection (the colour camera sees ~1.3x more pixels per degree than STB's depth camera,
    so single-pixel splats would leave holes); where several land on one pixel the nearest
    wins. Defaults are STB's SK calibration.
    """
    from poseforge.datasets.hand_conversions import rodrigues
    from poseforge.datasets.stb import STB_K_COLOR, STB_K_DEPTH, STB_SK_RVEC, STB_SK_T
    K_depth = STB_K_DEPTH if K_depth is None else np.asarray(K_depth, np.float64)
    K_color = STB_K_COLOR if K_color is None else np.asarray(K_color, np.float64)
    R = rodrigues(STB_SK_RVEC if rvec is None else rvec)
    T = STB_SK_T if T is None else np.asarray(T, np.float64)
    h, w = depth_mm.shape if out_shape is None else out_shape
    v, u = np.nonzero(depth_mm > 0)
    z = depth_mm[v, u].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], axis=1).astype(np.float64) @ np.linalg.inv(K_depth).T
    points = ((rays * z[:, None]) - T) @ R  # R^T (X - T), row vectors
    in_front = points[:, 2] > 0
    points = points[in_front]
    uvw = points @ K_color.T
    px, py, depth = uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2], points[:, 2]
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    xs = np.concatenate([x0, x0 + 1, x0, x0 + 1])
    ys = np.concatenate([y0, y0, y0 + 1, y0 + 1])
    zs = np.tile(depth, 4)
    ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    index, zs = ys[ok] * w + xs[ok], zs[ok]
    order = np.lexsort((zs, index))  # by pixel, nearest first
    first = np.unique(index[order], return_index=True)[1]
    out = np.zeros(h * w, dtype=np.float64)
    out[index[order][first]] = zs[order][first]
    return out.reshape(h, w).astype(np.float32)


def crop_depth(depth: np.ndarray, input_to_image: np.ndarray, input_size: Sequence[int],
               map_size: Sequence[int]) -> np.ndarray:
    """The depth of the model's input crop, at ``map_size`` (w, h), nearest-neighbour.

    ``input_to_image`` (2, 3) maps input px to original image px (``TopdownAffine``); the map's
    pixel ``(x, y)`` covers input px ``(x + 0.5) * in_w / map_w - 0.5`` (pixel centres on
    integers, as everywhere in poseforge). Nearest-neighbour, because blending a finger's depth
    with the background's at its edge would invent surfaces in between. Outside the image: 0.
    """
    in_w, in_h = (float(v) for v in input_size)
    map_w, map_h = (int(v) for v in map_size)
    sx, sy = in_w / map_w, in_h / map_h
    map_to_input = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    to_image = np.eye(3)
    to_image[:2] = np.asarray(input_to_image, dtype=np.float64)
    map_to_image = (to_image @ map_to_input)[:2]
    return cv2.warpAffine(np.ascontiguousarray(depth, dtype=np.float32), map_to_image,
                          (map_w, map_h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@TRANSFORMS.register_module()
class LoadDepth(BaseTransform):
    """Read the sample's depth map into ``depth`` (float32 mm, original image frame).

    Args:
        format: one of ``'mm_png'``, ``'rhd'``, ``'stb'`` (module docstring).
        path_key: the results key holding the file (the schema's ``depth_path``).
        from_image_path: ``(old, new)``: when ``path_key`` is absent, the path is ``img_path``
            with ``old`` replaced by ``new`` (RHD: ``('/color/', '/depth/')``).
    """

    def __init__(self, format: str = 'mm_png', path_key: str = 'depth_path',
                 from_image_path: Sequence[str] | None = None) -> None:
        if format not in DEPTH_FORMATS:
            raise ValueError(f'LoadDepth: format must be one of {DEPTH_FORMATS}, got {format!r}')
        if from_image_path is not None and len(from_image_path) != 2:
            raise ValueError('LoadDepth: from_image_path must be (old, new)')
        self.format = format
        self.path_key = path_key
        self.from_image_path = None if from_image_path is None else tuple(from_image_path)

    def depth_path(self, results: dict) -> str:
        if results.get(self.path_key):
            return results[self.path_key]
        img_path = results.get('img_path', '')
        if self.from_image_path is not None and self.from_image_path[0] in img_path:
            return img_path.replace(*self.from_image_path)
        raise KeyError(f"LoadDepth: sample '{img_path}' has no '{self.path_key}' (a dataset "
                       'without depth maps?); set from_image_path=(old, new) to derive it from '
                       'img_path')

    def read(self, path: str) -> np.ndarray:
        if self.format == 'mm_png':
            return read_mm_png(path)
        if self.format == 'rhd':
            from poseforge.datasets.rhd import read_rhd_depth
            return read_rhd_depth(path) * np.float32(1000.0)
        from poseforge.datasets.stb import read_stb_depth
        return register_stb_depth(read_stb_depth(path))

    def transform(self, results: dict) -> dict:
        path = self.depth_path(results)
        depth = self.read(path)
        shape = results.get('img_shape')
        if shape is not None and tuple(depth.shape[:2]) != tuple(shape[:2]):
            raise ValueError(f"LoadDepth: depth image '{path}' is {depth.shape[1]}x"
                             f'{depth.shape[0]}, its colour image {shape[1]}x{shape[0]}')
        results['depth'] = depth
        return results


@TRANSFORMS.register_module()
class GenerateDepthTarget(BaseTransform):
    """Relative-depth targets from ``keypoints_3d``, and the crop's normalised depth map.

    Reads ``keypoints_3d`` (the flipped ones after ``RandomFlip``: the relative depths are the
    same, only the order follows ``flip_indices``), ``transformed_keypoints``, ``input_size``,
    ``input_to_image`` and, when present, ``depth`` (``LoadDepth``). Writes

    * ``keypoint_depth`` (K,) float32: ``(z_i - z_root) / L_ref`` (the codec);
    * ``keypoint_depth_weights`` (K,) float32: 1 where the 3D label exists;
    * ``pose_uvd`` (K, 3) float32: ``(u / input_w, v / input_h, normalised depth)``, the pose as
      DGGAN's depth regulariser reads it;
    * ``depth_map`` (1, h, w) float32 in [0, 1] (``codec.normalise_depth``; 1 = far / no
      surface), when ``depth_map_size`` is set and the sample has a ``depth``;
    * ``root_depth``, ``ref_bone_length`` (mm), not packed as targets.

    Args:
        codec: a ``RelativeDepth`` config or object.
        depth_map_size: ``(w, h)`` of ``depth_map`` (DGGAN: 128 x 128), or ``None``.
        require_depth: raise when the sample has no ``depth`` (configs that train a GAN on it).
    """

    def __init__(self, codec: dict | Any = None, depth_map_size: Sequence[int] | None = None,
                 require_depth: bool = False) -> None:
        self.codec = build_codec(dict(type='RelativeDepth') if codec is None else codec)
        self.depth_map_size = None if depth_map_size is None else tuple(
            int(v) for v in depth_map_size)
        self.require_depth = require_depth

    def transform(self, results: dict) -> dict:
        if results.get('keypoints_3d') is None:
            raise KeyError(f"GenerateDepthTarget: sample '{results.get('img_path')}' has no "
                           "'keypoints_3d' (a 2D-only dataset cannot train a 3D model)")
        for key in ('transformed_keypoints', 'input_to_image', 'input_size'):
            if key not in results:
                raise KeyError(f"GenerateDepthTarget needs '{key}': put TopdownAffine before it")
        encoded = self.codec.encode(results['keypoints_3d'])
        results.update(encoded)
        in_w, in_h = results['input_size']
        uv = np.asarray(results['transformed_keypoints'], dtype=np.float32)
        results['pose_uvd'] = np.concatenate(
            [uv / np.array([in_w, in_h], dtype=np.float32),
             self.codec.normalise_relative(encoded['keypoint_depth'])[:, None]],
            axis=1).astype(np.float32)
        if self.depth_map_size is not None:
            if results.get('depth') is None:
                if self.require_depth:
                    raise KeyError(f"GenerateDepthTarget: sample '{results.get('img_path')}' has "
                                   "no 'depth': put LoadDepth before it")
                return results
            cropped = crop_depth(results['depth'], results['input_to_image'],
                                 results['input_size'], self.depth_map_size)
            results['depth_map'] = self.codec.normalise_depth(
                cropped, encoded['root_depth'], encoded['ref_bone_length'])[None].astype(
                    np.float32)
        return results
