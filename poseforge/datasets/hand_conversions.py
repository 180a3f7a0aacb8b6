"""Shared helpers of the 3D hand datasets (STB, MHP): the palm -> wrist root, camera projection
and the keypoint box.

Both STB and MHP label the **palm centre**, not the wrist, as their root joint, while poseforge's
``hand21`` layout starts with the wrist. The loaders therefore offer ``root='palm'`` (keep the
palm centre as joint 0, honestly named ``palm`` in the metainfo) or ``root='wrist'`` (derive a
wrist with :func:`palm_to_wrist`), so the two datasets agree on what "wrist" means.

The wrist rule (``wrist = ring_MCP + 2 (palm - ring_MCP)``, lmb-freiburg/hand3d's STB
conversion, the one rule ``docs/datasets.md`` cites; anchor and factor are options) and MHP's
box rule (:func:`padded_keypoint_bbox`, which STB's boxes follow too) are facts of the MHP
format that the generator's MHP writer needs as well: they live in :mod:`poseforge.formats.mhp`
(numpy only) and are re-exported here for the loaders.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from poseforge.formats.mhp import BOX_PAD_PX as BBOX_PAD_PX
from poseforge.formats.mhp import BOX_REF_DEPTH_MM as BBOX_REF_DEPTH_MM
from poseforge.formats.mhp import HAND21_INDEX, padded_keypoint_bbox, palm_to_wrist
from poseforge.formats.mhp import WRIST_ANCHOR as DEFAULT_WRIST_ANCHOR
from poseforge.formats.mhp import WRIST_FACTOR as DEFAULT_WRIST_FACTOR
from poseforge.skeletons import HAND21

__all__ = [
    'ROOTS', 'DEFAULT_WRIST_ANCHOR', 'DEFAULT_WRIST_FACTOR', 'HAND21_INDEX', 'check_root',
    'root_metainfo', 'palm_to_wrist', 'rodrigues', 'project_pinhole', 'padded_keypoint_bbox',
    'BBOX_PAD_PX', 'BBOX_REF_DEPTH_MM'
]

#: Accepted values of the loaders' ``root`` argument.
ROOTS: tuple[str, ...] = ('palm', 'wrist')


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
