"""Sequences: smoothly moving hands, so temporal methods can train on generated data.

A sequence of ``L`` frames is either

* **followed**: consecutive frames of a target sequence (STB, MHP, a json with sequence ids),
  each spin-matched on its own (:mod:`poseforge.generation.targets` picks the windows); or
* **interpolated**: a few key poses (sampled from the pose prior, or independent targets such as
  RHD's) spin-matched, then every frame in between by slerp of each local joint rotation and the
  root (:func:`poseforge.generation.skinning.slerp_poses`), timed by a smoothstep so that the hand
  eases in and out of each key (velocity continuous, zero at the keys). Bone lengths stay fixed
  and a hinge stays a hinge, because the joints follow by forward kinematics.

Random key poses walk: each key's hand orientation turns by at most :data:`MAX_TURN_DEG` from the
previous one and the wrist drifts a few centimetres, as a real hand does within a second.
"""
from __future__ import annotations

import math

import numpy as np

from poseforge.generation.hand_model import HandShape, forward_kinematics
from poseforge.generation.pose_prior import (PriorConfig, axis_angle, sample_angles,
                                             sample_pose, sample_wrist)
from poseforge.generation.skinning import SkeletonPose, slerp_poses
from poseforge.generation.template import HandTemplate

#: Frames between two key poses of an interpolated sequence (at 30 fps, 0.4 s).
KEY_SPACING = 12
#: Largest turn of the hand between two random key poses, and the wrist's drift (mm).
MAX_TURN_DEG = 40.0
DRIFT_MM = 30.0


def ease(t: np.ndarray | float) -> np.ndarray | float:
    """Smoothstep ``3 t^2 - 2 t^3``: 0 -> 0, 1 -> 1, zero slope at both ends."""
    return t * t * (3.0 - 2.0 * t)


def key_positions(length: int, spacing: int = KEY_SPACING) -> np.ndarray:
    """Frame indices of the key poses: the first and last frame and about every ``spacing``."""
    if length <= 1:
        return np.zeros(1, dtype=np.int64)
    count = math.ceil((length - 1) / spacing) + 1
    return np.round(np.linspace(0, length - 1, count)).astype(np.int64)


def interpolate(template: HandTemplate, keys: list[SkeletonPose], positions: np.ndarray,
                length: int) -> list[SkeletonPose]:
    """``length`` poses through ``keys`` placed at frame ``positions`` (eased slerp)."""
    if len(keys) != len(positions):
        raise ValueError('one key pose per key position')
    if len(keys) == 1:
        return [keys[0]] * length
    frames = []
    for f in range(length):
        seg = int(np.clip(np.searchsorted(positions, f, side='right') - 1, 0, len(keys) - 2))
        start, stop = positions[seg], positions[seg + 1]
        t = (f - start) / max(stop - start, 1)
        if t <= 0:
            frames.append(keys[seg])
        elif t >= 1:
            frames.append(keys[seg + 1])
        else:
            frames.append(slerp_poses(template, keys[seg], keys[seg + 1], float(ease(t))))
    return frames


def random_key_targets(rng: np.random.Generator, shape: HandShape, count: int,
                       prior: PriorConfig = PriorConfig(), left: bool = False
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` random key targets ``(joints (21, 3) world mm, wrist angles (2,))``.

    The first key is a full prior sample, centred on the world origin (the hand-centred world
    frame of the generator); later keys re-draw the finger and wrist angles, turn the hand a
    little and drift it. A left hand is the mirrored right hand (in the hand frame).
    """
    pose = sample_pose(rng, prior)
    angles, wrist, root = pose.angles, pose.wrist, pose.root
    joints, _ = forward_kinematics(shape, angles)
    flip = np.array([-1.0, 1.0, 1.0]) if left else np.ones(3)
    centre = 0.5 * (joints.min(0) + joints.max(0)) * flip
    offset = np.zeros(3)
    keys = []
    for k in range(count):
        if k > 0:
            angles = sample_angles(rng, prior)
            wrist = sample_wrist(rng)
            axis = rng.normal(size=3)
            root = axis_angle(axis, np.radians(rng.uniform(0.0, MAX_TURN_DEG))) @ root
            offset = offset + rng.normal(0.0, DRIFT_MM / np.sqrt(3), 3)
            joints, _ = forward_kinematics(shape, angles)
        keys.append(((joints * flip - centre) @ root.T + offset, wrist))
    return keys


__all__ = ['DRIFT_MM', 'KEY_SPACING', 'MAX_TURN_DEG', 'ease', 'interpolate', 'key_positions',
           'random_key_targets']
