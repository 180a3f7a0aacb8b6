"""``DIR/gallery.png``: a look at what was generated, written with every dataset.

One row per sample (the first frame of the first few units), two tiles per view: the RGB image
with its keypoints and skeleton (visible joints filled, self-occluded ones as rings) and the
depth map beside it (near = warm, no surface = black). Read back from the written files and
records, so it shows exactly what a loader will see.
"""
from __future__ import annotations

import os.path as osp

import cv2
import numpy as np

from poseforge.generation import writer
from poseforge.skeletons import HAND21
from poseforge.visualization.draw import draw_pose

TILE = 192


def depth_tile(depth_mm: np.ndarray) -> np.ndarray:
    """A colour (RGB) picture of a depth map: the hand's depth range stretched, 0 black."""
    hit = depth_mm > 0
    out = np.zeros(depth_mm.shape + (3,), dtype=np.uint8)
    if not hit.any():
        return out
    near, far = np.percentile(depth_mm[hit], [1, 99])
    scaled = np.clip((far - depth_mm) / max(far - near, 1.0), 0, 1) * 255
    colour = cv2.applyColorMap(scaled.astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1]
    out[hit] = colour[hit]
    return out


def _fit(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)),
                      interpolation=cv2.INTER_AREA)


def view_tiles(out_dir: str, paths: dict, annotation: dict) -> np.ndarray:
    """RGB with keypoints and the depth map of one view, side by side (RGB uint8)."""
    rgb = cv2.imread(osp.join(out_dir, paths['rgb']), cv2.IMREAD_COLOR)[..., ::-1]
    scale = TILE / max(rgb.shape[:2])
    keypoints = np.asarray(annotation['keypoints'], dtype=np.float64).reshape(-1, 3)
    small = np.ascontiguousarray(_fit(rgb, scale))
    drawn = draw_pose(small, (keypoints[:, :2] + 0.5) * scale - 0.5, HAND21.limbs,
                      keypoints[:, 2] > 0, HAND21.keypoint_colors, HAND21.limb_colors,
                      radius=2, thickness=1)
    for x, y in (keypoints[keypoints[:, 2] == writer.OCCLUDED, :2] + 0.5) * scale - 0.5:
        cv2.circle(drawn, (int(round(x)), int(round(y))), 3, (255, 255, 255), 1, cv2.LINE_AA)
    if 'depth' in paths:
        depth = cv2.imread(osp.join(out_dir, paths['depth']), cv2.IMREAD_UNCHANGED)
        right = _fit(depth_tile(depth.astype(np.float32)), scale)
    else:
        right = np.zeros_like(drawn)
    return np.concatenate([drawn, right], axis=1)


def write_gallery(out_dir: str, shards: list[dict], path: str) -> str:
    """Write the gallery of the first frame of each of ``shards`` (all views) to ``path``."""
    rows = []
    for shard in shards:
        first = [i for i, im in enumerate(shard['images']) if im.get('frame_id', 0) == 0]
        tiles = [view_tiles(out_dir, shard['paths'][i], shard['annotations'][i]) for i in first]
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
    ok, data = cv2.imencode('.png', np.concatenate(rows, axis=0)[..., ::-1])
    if not ok:
        raise OSError(f"could not encode '{path}'")
    writer.write_bytes(path, data.tobytes())
    return path


__all__ = ['depth_tile', 'view_tiles', 'write_gallery']
