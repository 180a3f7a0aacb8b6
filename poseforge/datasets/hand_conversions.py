"""Shared helpers of the 3D hand datasets (STB, MHP): joint reordering, the palm -> wrist root,
camera projection and the keypoint box.

Both STB and MHP label the **palm centre**, not the wrist, as their root joint, while poseforge's
``hand21`` layout starts with the wrist. The loaders therefore offer ``root='palm'`` (keep the
palm centre as joint 0, honestly named ``palm`` in the metainfo) or ``root='wrist'`` (derive a
wrist with :func:`palm_to_wrist`). The rule is written once here and shared, so the two
datasets agree on what "wrist" means.

Wrist rule (default): ``wrist = anchor + factor * (palm - anchor)`` with ``anchor`` the ring
finger's MCP and ``factor = 2``, i.e. the ring MCP reflected through the palm centre. This is
lmb-freiburg/hand3d's STB conversion (``BinaryDbReaderSTB``, ``use_wrist_coord``), the one rule
``docs/datasets.md`` cites. It is an approximation: the palm centre lies roughly half-way
between the knuckles and the wrist only on average. Other papers use other anchors (e.g. the
middle MCP): both ``anchor`` (any ``hand21`` joint name) and ``factor`` are options.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from poseforge.skeletons import HAND21

__all__ = [
    'ROOTS', 'DEFAULT_WRIST_ANCHOR', 'DEFAULT_WRIST_FACTOR', 'HAND21_INDEX', 'check_root',
    'root_metainfo', 'palm_to_wrist', 'rodrigues', 'project_pinhole', 'padded_keypoint_bbox',
    'BBOX_PAD_PX', 'BBOX_REF_DEPTH_MM'
]

#: Accepted values of the loaders' ``root`` argument.
ROOTS: tuple[str, ...] = ('palm', 'wrist')
#: hand21 joint reflected through the palm centre to make the wrist (hand3d's STB rule).
DEFAULT_WRIST_ANCHOR = 'ring1'
DEFAULT_WRIST_FACTOR = 2.0
#: hand21 joint name -> index.
HAND21_INDEX: dict[str, int] = {name: i for i, name in enumerate(HAND21.keypoint_names)}

#: MHP's bounding-box rule: keypoint extent padded by 20 px at 390 mm, scaled by 1 / depth.
BBOX_PAD_PX = 20.0
BBOX_REF_DEPTH_MM = 390.0


def check_root(root: str, dataset: str) -> str:
    """``root`` if it is ``'palm'`` or ``'wrist'``, else a ``ValueError`` naming the dataset."""
    if root not in ROOTS:
        raise ValueError(f"{dataset}: root must be one of {ROOTS}, got {root!r}")
    return root


def root_metainfo(root: str) -> dict:
    """Metainfo overrides: joint 0 is called ``palm`` when it is the palm centre, and
    ``root_joint`` says which it is (models and metrics must not mistake one for the other)."""
    names = list(HAND21.keypoint_names)
    if root == 'palm':
        names[0] = 'palm'
    return dict(keypoint_names=names, root_joint=root)


def palm_to_wrist(keypoints: np.ndarray, anchor: str = DEFAULT_WRIST_ANCHOR,
                  factor: float = DEFAULT_WRIST_FACTOR) -> np.ndarray:
    """Replace joint 0 (the palm centre) of ``hand21``-ordered keypoints by a derived wrist.

    ``wrist = kp[anchor] + factor * (kp[0] - kp[anchor])``, applied to the last two axes of
    ``keypoints`` (..., 21, D), so it works on a batch of frames and on 2D or 3D points alike.
    Apply it to 3D points and project, rather than to 2D projections: under perspective (and
    lens distortion) the 2D extrapolation is not the projection of the 3D wrist.

    Args:
        keypoints: ``(..., 21, D)`` in the ``hand21`` order with the palm centre at index 0.
        anchor: the ``hand21`` joint name reflected through the palm (default ``ring1``, the
            ring finger's MCP, hand3d's STB rule).
        factor: 2 reflects the anchor through the palm centre; other values slide along the
            same line.

    Returns:
        A copy with joint 0 replaced by the wrist.
    """
    if anchor not in HAND21_INDEX or anchor == HAND21.keypoint_names[0]:
        raise ValueError(f'wrist anchor must be a finger joint of hand21 '
                         f'({", ".join(HAND21.keypoint_names[1:])}), got {anchor!r}')
    out = np.array(keypoints, dtype=np.float64, copy=True)
    anchor_xyz = out[..., HAND21_INDEX[anchor], :]
    out[..., 0, :] = anchor_xyz + factor * (out[..., 0, :] - anchor_xyz)
    return out


def rodrigues(rvec: Sequence[float] | np.ndarray) -> np.ndarray:
    """Axis-angle (3,) -> rotation matrix (3, 3) (OpenCV's convention, as the datasets use)."""
    matrix, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))
    return matrix


def project_pinhole(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixels (..., 2) with intrinsics ``K``, no distortion."""
    points = np.asarray(points, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    uvw = points @ K.T
    return uvw[..., :2] / uvw[..., 2:3]


def padded_keypoint_bbox(keypoints_2d: np.ndarray, mean_depth_mm: np.ndarray,
                         pad_px: float = BBOX_PAD_PX,
                         ref_depth_mm: float = BBOX_REF_DEPTH_MM) -> np.ndarray:
    """MHP's hand box: keypoint extent padded by ``pad_px * mean_depth / ref_depth`` pixels.

    The MHP utility scripts write ``TOP, LEFT, BOTTOM, RIGHT`` as integers; their values are
    reproduced by **truncating** each padded side towards zero (``int()``; the floor for the
    positive coordinates of in-image boxes), with ``mean_depth`` the mean camera-frame ``z``
    of the 21 labelled points (checked against the four views of the fixture frame, where the
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
