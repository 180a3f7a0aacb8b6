"""Random hand poses within anatomical joint limits.

Why not uniform sampling: independent uniform angles give mostly odd, claw-like hands, while
real hands move their joints together (a finger's PIP and DIP flex together; fingers curl and
spread together). The prior mixes a *synergy* mode (one grasp level for the hand, per-finger
deviations, coupled joints) with a *uniform* mode that still covers unusual poses, and a *grasp*
mode (:data:`GRASPS`): fists, power and precision grasps, pinches and the common gestures
(pointing, V, OK, thumbs up), which the synergy mode reaches only by chance because they
decouple the thumb from the fingers or one finger from the others, and which real hand images
are full of (hands hold things). Every angle is clipped to its limits, so samples always satisfy
:data:`FINGER_LIMITS_DEG`.

Angles follow :func:`poseforge.generation.hand_model.forward_kinematics`: per finger
``(abduction, flex1, flex2, flex3)`` in radians, abduction positive towards the thumb, flexion
positive towards the palm. For the thumb, ``abduction`` lifts it out of the palm plane and
``flex1`` (CMC) swings it across the palm.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Joint limits in degrees: rows thumb..little, columns (abduction, flex1, flex2, flex3),
#: each ``(low, high)``. Fingers: MCP -20..90 (slight hyperextension), PIP 0..110,
#: DIP -5..80, abduction wider for the index and little fingers. Thumb: CMC abduction/flexion,
#: MCP and IP flexion.
FINGER_LIMITS_DEG = np.array([
    [(-15.0, 40.0), (-20.0, 45.0), (-10.0, 55.0), (-15.0, 80.0)],   # thumb
    [(-15.0, 25.0), (-20.0, 90.0), (0.0, 110.0), (-5.0, 80.0)],     # index
    [(-15.0, 15.0), (-20.0, 90.0), (0.0, 110.0), (-5.0, 80.0)],     # middle
    [(-20.0, 12.0), (-20.0, 90.0), (0.0, 110.0), (-5.0, 80.0)],     # ring
    [(-35.0, 10.0), (-20.0, 90.0), (0.0, 110.0), (-5.0, 80.0)],     # little
])
#: Wrist (flexion, radial-ulnar deviation) limits in degrees; they only move the forearm.
WRIST_LIMITS_DEG = np.array([(-50.0, 50.0), (-25.0, 15.0)])

#: Direction of "spreading" per finger (radial positive): index radially, ring/little ulnarly.
_SPREAD_DIRECTION = np.array([1.0, 1.0, 0.1, -0.6, -1.0])


def limits_rad() -> np.ndarray:
    """:data:`FINGER_LIMITS_DEG` in radians, shape (5, 4, 2)."""
    return np.radians(FINGER_LIMITS_DEG)


@dataclass(frozen=True)
class PriorConfig:
    """Knobs of the pose prior.

    Attributes:
        uniform_prob: share of poses with every angle uniform in its limits.
        finger_independence: spread of a finger's curl around the hand's grasp level.
        max_tilt_deg: largest tilt of the hand's long axis away from world up (+y).
        grasp_prob: share of poses drawn from :data:`GRASPS` (0 draws nothing for it, so the
            other modes' samples stay exactly what they were without grasps).
    """

    uniform_prob: float = 0.15
    finger_independence: float = 0.3
    max_tilt_deg: float = 45.0
    grasp_prob: float = 0.3


@dataclass(frozen=True)
class HandPose:
    """A sampled hand pose.

    Attributes:
        angles: (5, 4) finger angles in radians (see module docstring).
        wrist: (2,) wrist flexion and deviation in radians.
        root: (3, 3) rotation of the hand frame into the world frame (world up is +y).
    """

    angles: np.ndarray
    wrist: np.ndarray = field(default_factory=lambda: np.zeros(2))
    root: np.ndarray = field(default_factory=lambda: np.eye(3))


def within_limits(angles: np.ndarray, tol: float = 1e-9) -> bool:
    """Whether every angle (5, 4) in radians lies inside its limits."""
    lim = limits_rad()
    angles = np.asarray(angles).reshape(5, 4)
    return bool(np.all(angles >= lim[..., 0] - tol) and np.all(angles <= lim[..., 1] + tol))


def _from_unit(unit: np.ndarray, lim: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] onto ``[low, high]`` per joint (clipped)."""
    return lim[..., 0] + np.clip(unit, 0.0, 1.0) * (lim[..., 1] - lim[..., 0])


def _uniform_angles(rng: np.random.Generator) -> np.ndarray:
    return _from_unit(rng.uniform(size=(5, 4)), limits_rad())


def _synergy_angles(rng: np.random.Generator, cfg: PriorConfig) -> np.ndarray:
    """Coupled angles: a grasp level for the hand, per-finger curl, PIP-DIP coupling, spread."""
    lim = limits_rad()
    grasp = rng.uniform() ** 1.2
    curl = grasp + rng.normal(0.0, cfg.finger_independence, size=5)
    pointing = rng.uniform(size=5) < 0.15                      # a finger leaves the synergy
    curl[pointing] = rng.uniform(size=pointing.sum())
    curl = np.clip(curl, 0.0, 1.0)

    unit = np.empty((5, 4))
    zero = -lim[..., 0] / (lim[..., 1] - lim[..., 0])          # unit value of a 0 rad angle
    unit[:, 1] = zero[:, 1] + curl * (0.85 - zero[:, 1]) + rng.normal(0, 0.07, 5)
    unit[:, 2] = zero[:, 2] + curl * (0.9 - zero[:, 2]) + rng.normal(0, 0.07, 5)
    unit[:, 3] = zero[:, 3] + (unit[:, 2] - zero[:, 2]) * 0.8 + rng.normal(0, 0.06, 5)

    spread = rng.uniform(-0.3, 1.0) * (1.0 - 0.7 * curl[1:].mean())
    abduction = spread * _SPREAD_DIRECTION * np.where(_SPREAD_DIRECTION > 0, lim[:, 0, 1],
                                                      -lim[:, 0, 0])
    angles = _from_unit(unit, lim)
    angles[:, 0] = abduction + rng.normal(0.0, np.radians(3.0), 5)
    angles[0, 0] = _from_unit(np.array(rng.uniform(0.1, 0.9)), lim[0, 0])  # thumb abduction
    return np.clip(angles, lim[..., 0], lim[..., 1])


_FIST = (0.0, 88.0, 105.0, 70.0)
_STRAIGHT = (0.0, 2.0, 5.0, 3.0)
_THUMB_ACROSS = (-7.0, 5.0, 38.0, 39.0)   # over the index and middle fingers
#: Grasp and gesture templates in degrees: rows thumb..little, columns (abduction, flex1,
#: flex2, flex3) as in :data:`FINGER_LIMITS_DEG`. Sampled with jitter and a closure level.
#: The thumb rows were solved on the default hand's kinematics for contact: its tip 12 mm from
#: the index tip (pinch, OK), from between the index and middle tips (tripod), 8 mm beside the
#: index PIP (lateral, key grip), 16 mm from the index and middle PIPs (thumb across a fist),
#: 18 mm from the index DIP (power grip).
GRASPS: dict[str, np.ndarray] = {name: np.array(rows, dtype=np.float64) for name, rows in {
    'fist': [_THUMB_ACROSS, _FIST, _FIST, _FIST, _FIST],
    'power': [(2.0, 14.0, 21.0, 24.0), (0.0, 50.0, 70.0, 40.0), (0.0, 55.0, 72.0, 42.0),
              (0.0, 58.0, 75.0, 45.0), (0.0, 62.0, 78.0, 48.0)],
    'spherical': [(15.0, 20.0, 22.0, 24.0), (12.0, 35.0, 40.0, 25.0), (0.0, 35.0, 42.0, 25.0),
                  (-8.0, 38.0, 45.0, 28.0), (-20.0, 40.0, 48.0, 30.0)],
    'pinch': [(8.0, 16.0, 19.0, 22.0), (5.0, 45.0, 50.0, 20.0), (0.0, 40.0, 60.0, 30.0),
              (0.0, 50.0, 70.0, 40.0), (0.0, 55.0, 75.0, 45.0)],
    'tripod': [(-3.0, 34.0, 1.0, 2.0), (5.0, 40.0, 45.0, 20.0), (0.0, 40.0, 45.0, 20.0),
               (0.0, 60.0, 80.0, 45.0), (0.0, 65.0, 85.0, 50.0)],
    'lateral': [(-12.0, -2.0, 25.0, 31.0), (0.0, 60.0, 80.0, 40.0), (0.0, 70.0, 90.0, 50.0),
                (0.0, 75.0, 95.0, 55.0), (0.0, 80.0, 100.0, 60.0)],
    'hook': [(10.0, 0.0, 10.0, 10.0), (0.0, 5.0, 90.0, 60.0), (0.0, 5.0, 90.0, 60.0),
             (0.0, 5.0, 90.0, 60.0), (0.0, 5.0, 90.0, 60.0)],
    'point': [_THUMB_ACROSS, _STRAIGHT, _FIST, _FIST, _FIST],
    'v_sign': [_THUMB_ACROSS, (12.0, 2.0, 5.0, 3.0), (-8.0, 2.0, 5.0, 3.0), _FIST, _FIST],
    'ok': [(8.0, 16.0, 21.0, 24.0), (5.0, 45.0, 60.0, 35.0), (0.0, 5.0, 10.0, 5.0),
           (-5.0, 5.0, 10.0, 5.0), (-15.0, 10.0, 10.0, 5.0)],
    'thumbs_up': [(0.0, -10.0, 0.0, 0.0), _FIST, _FIST, _FIST, _FIST],
    'claw': [(25.0, 20.0, 30.0, 40.0), (8.0, 0.0, 80.0, 60.0), (0.0, 0.0, 80.0, 60.0),
             (-6.0, 0.0, 80.0, 60.0), (-15.0, 0.0, 80.0, 60.0)],
}.items()}


def grasp_angles(rng: np.random.Generator, name: str | None = None) -> np.ndarray:
    """Finger angles (5, 4) in radians of a grasp or gesture of :data:`GRASPS` (random if
    ``name`` is ``None``): the template, closed to a random level from a relaxed hand (closure
    0.6..1), with per-joint jitter (sd 7 degrees), clipped to the limits."""
    lim = limits_rad()
    names = sorted(GRASPS)
    if name is None:
        name = names[int(rng.integers(len(names)))]
    template = np.radians(GRASPS[name])
    relaxed = np.radians(np.array([(15.0, 10.0, 10.0, 10.0)] + [(0.0, 15.0, 20.0, 10.0)] * 4))
    closure = rng.uniform(0.6, 1.0)
    angles = relaxed + closure * (template - relaxed) + rng.normal(0.0, np.radians(7.0), (5, 4))
    return np.clip(angles, lim[..., 0], lim[..., 1])


def sample_angles(rng: np.random.Generator, cfg: PriorConfig = PriorConfig()) -> np.ndarray:
    """Finger angles (5, 4) in radians, always within :data:`FINGER_LIMITS_DEG`."""
    if cfg.grasp_prob > 0 and rng.uniform() < cfg.grasp_prob:
        return grasp_angles(rng)
    if rng.uniform() < cfg.uniform_prob:
        return _uniform_angles(rng)
    return _synergy_angles(rng, cfg)


def sample_wrist(rng: np.random.Generator) -> np.ndarray:
    """Wrist flexion and deviation (2,) in radians, uniform within :data:`WRIST_LIMITS_DEG`."""
    lim = np.radians(WRIST_LIMITS_DEG)
    return rng.uniform(lim[:, 0], lim[:, 1])


def axis_angle(axis, angle: float) -> np.ndarray:
    """Rotation matrix about unit ``axis`` by ``angle`` rad (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                      [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def sample_root(rng: np.random.Generator, max_tilt_deg: float = 45.0) -> np.ndarray:
    """Hand-to-world rotation: any heading about world up (+y), long axis tilted up to a limit.

    Why limit the tilt: the cameras ring the world up axis, so the tilt and the camera roll
    together set how far the fingers turn from "up" in the image; bounded, it keeps the
    default data learnable by a small model while views still differ a lot.
    """
    heading = rng.uniform(0.0, 2 * np.pi)
    tilt_axis_angle = rng.uniform(0.0, 2 * np.pi)
    tilt_axis = np.array([np.cos(tilt_axis_angle), 0.0, np.sin(tilt_axis_angle)])
    tilt = np.radians(max_tilt_deg) * np.sqrt(rng.uniform())
    return axis_angle(tilt_axis, tilt) @ axis_angle([0.0, 1.0, 0.0], heading)


def sample_pose(rng: np.random.Generator, cfg: PriorConfig = PriorConfig()) -> HandPose:
    """A full pose: finger angles, wrist and root orientation."""
    return HandPose(angles=sample_angles(rng, cfg), wrist=sample_wrist(rng),
                    root=sample_root(rng, cfg.max_tilt_deg))


__all__ = ['FINGER_LIMITS_DEG', 'GRASPS', 'WRIST_LIMITS_DEG', 'HandPose', 'PriorConfig',
           'axis_angle', 'grasp_angles', 'limits_rad', 'sample_angles', 'sample_pose', 'sample_root',
           'sample_wrist', 'within_limits']
