"""Plain, slow reference implementations of the top-down data path, for tests only.

Each follows the textbook / mmpose definition step by step (no fusion, no vectorisation) so
the fast implementations in ``poseforge`` can be checked against it.
"""
from __future__ import annotations

import json
import math
import os.path as osp

import cv2
import numpy as np

from conftest import FIXTURES

ONEHAND10K = osp.join(FIXTURES, 'onehand10k')


def onehand10k_samples() -> list[dict]:
    """The OneHand10K fixture annotations as schema entries (read, never copied)."""
    with open(osp.join(ONEHAND10K, 'test_onehand10k.json')) as f:
        ann = json.load(f)
    images = {img['id']: img for img in ann['images']}
    samples = []
    for a in ann['annotations']:
        kp = np.asarray(a['keypoints'], dtype=np.float32).reshape(-1, 3)
        x, y, w, h = a['bbox']
        samples.append(dict(
            img_path=osp.join(ONEHAND10K, images[a['image_id']]['file_name']),
            img_id=a['image_id'], id=a['id'],
            bbox=np.array([x, y, x + w, y + h], dtype=np.float32), bbox_score=1.0,
            keypoints=kp[:, :2].copy(), keypoints_visible=(kp[:, 2] > 0).astype(np.float32),
            flip_indices=list(range(kp.shape[0]))))
    return samples


def rotate_point(pt: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotate a 2-D vector anticlockwise (in x-right, y-down coordinates: clockwise on screen)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([pt[0] * c - pt[1] * s, pt[0] * s + pt[1] * c])


def third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point making a right angle at ``b`` with ``a`` (turn ``a - b`` by 90 degrees)."""
    d = a - b
    return b + np.array([-d[1], d[0]])


def warp_matrix_three_points(center, scale, rot: float, output_size) -> np.ndarray:
    """mmpose's construction: map centre, a point above it and a third, via getAffineTransform."""
    center = np.asarray(center, dtype=np.float64)
    src_w = float(scale[0])
    dst_w, dst_h = output_size
    src_dir = rotate_point(np.array([0.0, -0.5 * src_w]), math.radians(rot))
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + src_dir
    src[2] = third_point(src[0].astype(np.float64), src[1].astype(np.float64))
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, -0.5 * dst_w])
    dst[2] = third_point(dst[0].astype(np.float64), dst[1].astype(np.float64))
    return cv2.getAffineTransform(src, dst)


def fix_aspect(scale, aspect: float) -> np.ndarray:
    w, h = float(scale[0]), float(scale[1])
    return np.array([w, w / aspect] if w > h * aspect else [h * aspect, h])


def flip_then_warp(img: np.ndarray, keypoints: np.ndarray, flip_indices, center, scale,
                   rot: float, output_size, flip: bool):
    """The unfused path: flip the full image (cv2.flip) and the keypoints, then warp."""
    h, w = img.shape[:2]
    keypoints = np.asarray(keypoints, dtype=np.float64).copy()
    center = np.asarray(center, dtype=np.float64).copy()
    if flip:
        img = cv2.flip(img, 1)
        keypoints[:, 0] = w - 1 - keypoints[:, 0]
        keypoints = keypoints[list(flip_indices)]
        center[0] = w - 1 - center[0]
    scale = fix_aspect(scale, output_size[0] / output_size[1])
    m = warp_matrix_three_points(center, scale, rot, output_size)
    crop = cv2.warpAffine(img, m, tuple(output_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    warped = np.array([m @ np.array([x, y, 1.0]) for x, y in keypoints])
    return crop, warped


def gaussian_heatmaps(keypoints_hm: np.ndarray, visible: np.ndarray, heatmap_size,
                      sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """One keypoint, one pixel at a time: exp(-d^2 / 2 sigma^2) at the sub-pixel centre."""
    W, H = heatmap_size
    K = keypoints_hm.shape[0]
    heatmaps = np.zeros((K, H, W), dtype=np.float64)
    weights = np.zeros(K, dtype=np.float64)
    r = 3 * sigma
    for k in range(K):
        mx, my = float(keypoints_hm[k, 0]), float(keypoints_hm[k, 1])
        if visible[k] < 0.5:
            continue
        if mx - r >= W or my - r >= H or mx + r + 1 < 0 or my + r + 1 < 0:
            continue
        weights[k] = visible[k]
        for y in range(H):
            for x in range(W):
                heatmaps[k, y, x] = math.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * sigma ** 2))
    return heatmaps, weights


def blob_image(size_hw, centres, sigma: float, value: float = 255.0) -> np.ndarray:
    """A black RGB image with a Gaussian blob of peak ``value`` at each ``centre`` (x, y)."""
    h, w = size_hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w), dtype=np.float64)
    for cx, cy in centres:
        img = np.maximum(img, value * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2)
                                             / (2 * sigma ** 2)))
    return np.repeat(np.round(img).astype(np.uint8)[:, :, None], 3, axis=2)


def blob_centroid(img: np.ndarray, near, radius: float) -> np.ndarray:
    """Intensity centroid (x, y) of the blob within ``radius`` px of ``near``."""
    gray = img[..., 0].astype(np.float64) if img.ndim == 3 else img.astype(np.float64)
    ys, xs = np.mgrid[0:gray.shape[0], 0:gray.shape[1]]
    mask = (xs - near[0]) ** 2 + (ys - near[1]) ** 2 <= radius ** 2
    weight = gray * mask
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
