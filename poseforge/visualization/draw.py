"""Skeleton drawing with OpenCV (RGB images, colours from :mod:`poseforge.skeletons`)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def draw_pose(img: np.ndarray, keypoints: np.ndarray, limbs: Sequence[Sequence[int]],
              visible: np.ndarray | None = None, keypoint_colors: Sequence | None = None,
              limb_colors: Sequence | None = None, bbox: np.ndarray | None = None,
              radius: int = 3, thickness: int = 2, dashed_invisible: bool = True) -> np.ndarray:
    """Draw one instance onto a copy of ``img`` (H, W, 3) RGB uint8.

    Invisible keypoints (``visible == 0``) are skipped; a limb is drawn when both ends are
    visible. Returns the new image.
    """
    out = np.ascontiguousarray(img.copy())
    kpts = np.asarray(keypoints, dtype=np.float32).reshape(-1, 2)
    vis = np.ones(len(kpts), bool) if visible is None else np.asarray(visible).reshape(-1) > 0
    default = (0, 255, 0)
    if bbox is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in np.asarray(bbox).reshape(4))
        cv2.rectangle(out, (x1, y1), (x2, y2), (255, 255, 0), 1, cv2.LINE_AA)
    for i, (a, b) in enumerate(limbs):
        if vis[a] and vis[b]:
            color = tuple(int(c) for c in (limb_colors[i] if limb_colors else default))
            pa, pb = tuple(np.round(kpts[a]).astype(int)), tuple(np.round(kpts[b]).astype(int))
            cv2.line(out, pa, pb, color, thickness, cv2.LINE_AA)
    for i, (x, y) in enumerate(kpts):
        if vis[i]:
            color = tuple(int(c) for c in (keypoint_colors[i] if keypoint_colors else default))
            cv2.circle(out, (int(round(x)), int(round(y))), radius, color, -1, cv2.LINE_AA)
    return out


def crop_around(img: np.ndarray, bbox: np.ndarray, size: int, padding: float = 1.4
                ) -> tuple[np.ndarray, np.ndarray]:
    """A square ``size`` crop around ``bbox`` and the 2x3 affine image -> crop."""
    x1, y1, x2, y2 = np.asarray(bbox, dtype=np.float64).reshape(4)
    side = max(x2 - x1, y2 - y1, 1.0) * padding
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    s = size / side
    mat = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], dtype=np.float64)
    crop = cv2.warpAffine(img, mat, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, mat


def prediction_grid(images: Sequence[np.ndarray], predictions: Sequence[dict], meta: dict,
                    tile: int = 256, cols: int = 4, with_gt: bool = True) -> np.ndarray:
    """Tiles of predictions (filled skeleton) and ground truth (thin white) around each box.

    Args:
        images: RGB images, one per prediction.
        predictions: dicts with ``pred_keypoints`` and, optionally, ``keypoints`` /
            ``keypoints_visible`` (ground truth) and ``bbox``.
        meta: dataset metainfo (``limbs``, ``keypoint_colors``, ``limb_colors``).
    """
    tiles = []
    for img, pred in zip(images, predictions):
        bbox = pred.get('bbox')
        if bbox is None:
            h, w = img.shape[:2]
            bbox = np.array([0, 0, w, h], np.float32)
        crop, mat = crop_around(img, bbox, tile)
        to_crop = lambda p: np.asarray(p, np.float64) @ mat[:, :2].T + mat[:, 2]  # noqa: E731
        if with_gt and pred.get('keypoints') is not None:
            crop = draw_pose(crop, to_crop(pred['keypoints']), meta['limbs'],
                             pred.get('keypoints_visible'), [(255, 255, 255)] * 64,
                             [(255, 255, 255)] * 64, radius=2, thickness=1)
        crop = draw_pose(crop, to_crop(pred['pred_keypoints']), meta['limbs'], None,
                         meta.get('keypoint_colors'), meta.get('limb_colors'))
        tiles.append(crop)
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    return np.concatenate(rows, axis=0)
