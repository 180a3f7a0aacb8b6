"""MVHM spin match: fit the rigged template hand to target 3D joints (and, optionally, a mesh).

MVHM (``docs/methods.md``, "MVHM spin-match dataset generation") aligns a rigged hand model to a
target pose bone by bone, spinning each bone about its parent joint onto the target's direction
from the root outwards, then solving the twist about the bone axis by a 1-D search. The paper's
exact step list is not public; this is the algorithm implemented here, step by step:

1. **Handedness.** The template is a right hand. A left-hand target (and its mesh) is mirrored
   through ``x = 0``, matched, and the posed result mirrored back (``SkeletonPose.mirror``), so
   every fit below is right hand to right hand.
2. **Lengths.** Each bone keeps the template's length (the rest length, or the ``lengths`` of a
   sampled hand shape), or with ``match_lengths`` takes the target's: the bone is scaled along
   its own axis (``SkeletonPose.scales``), so the fitted joints *equal* the target's.
3. **Root.** The palm frame of a hand is built from the wrist and the index, middle and little
   MCPs: ``y`` from the wrist to the middle MCP, ``z`` (palmar) along
   ``(index - wrist) x (little - wrist)`` made orthogonal to ``y``, ``x = y x z``. The root
   rotation takes the template's rest palm frame onto the target's; the template's wrist is put
   on the target's wrist. The generated hand therefore lives in the target's world frame.
4. **Spin, from the root outwards.** Bones are visited by depth: the five metacarpals (wrist ->
   thumb CMC / finger MCPs), then the proximal, middle and distal phalanges. A bone first
   inherits its parent's rotation (the root's for the metacarpals), which carries its rest frame
   along; then the *minimal* rotation about its start joint that turns its axis onto the
   target's bone direction is applied (the spin). The bone's direction is now exact; the rotation
   about its own axis (twist) is still open, because joints alone do not fix it.
5. **Twist, a 1-D search per bone** (all bones of one depth at once). The twist ``theta`` about
   the target bone axis minimises, over a 72-point grid of the full circle refined twice by
   local grids (5 deg, then 0.5 deg, then a parabola through the best three):

   * hinge bones (finger proximal and middle phalanges; thumb metacarpal and proximal phalanx,
     whose next joint, PIP / DIP / thumb MCP / IP, flexes about one axis): the next target joint
     must lie in the bone's flexion plane (local ``y``-``z``), i.e. the squared out-of-plane
     component of the next bone's direction, normalised by its bend; plus a penalty when the
     implied flexion leaves that joint's limits (``pose_prior.FINGER_LIMITS_DEG``, 10 deg
     slack), which picks the palmar of the two in-plane solutions. When the next bone is nearly
     straight the plane is undefined, so the term is faded out (weight
     ``sin^2 a / (sin^2 a + sin^2 5 deg)``, ``a`` the bend) in favour of the next term;
   * continuity (``1 - cos theta``): no twist beyond the minimal spin, which keeps the flexion
     axis of a distal phalanx on its parent's (the DIP / IP hinge) and decides straight fingers;
   * metacarpals: the palm plane, the squared component of the bone's flexion axis along the
     target palm normal (metacarpals do not twist out of the palm), plus a little continuity;
   * with a target mesh (``target_vertices``): the mean distance from the bone's own vertices
     (those the bone alone moves, posed with the candidate twist) to the nearest target vertex,
     a one-sided Chamfer distance in mm, plus 0.5 mm times the joint-based objective above as a
     tie-breaker (a nearly elliptic finger looks alike twisted by 180 deg).
6. **Forearm.** The unlabelled forearm bone follows the root, bent by the given wrist flexion /
   deviation (it only shapes the wrist's surroundings).
7. **Joints and mesh.** The joints follow by forward kinematics along the posed bones; the mesh by
   linear blend skinning (:func:`poseforge.generation.skinning.skin`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from poseforge.generation.hand_model import NUM_JOINTS, frame_from, rot_x, rot_z
from poseforge.generation.pose_prior import FINGER_LIMITS_DEG
from poseforge.generation.skinning import MIRROR, SkeletonPose, chain_joints
from poseforge.generation.template import CHILD, DEPTH, METACARPALS, PARENT, HandTemplate

#: Slots whose next joint is a hinge: finger proximal / middle phalanges, thumb slots 2 and 3.
HINGE_SLOTS = np.array([2, 3] + [s for f in range(1, 5) for s in (2 + 4 * f, 3 + 4 * f)])
_GRID = 72
_LIMIT_SLACK = np.radians(10.0)
_STRAIGHT = np.sin(np.radians(5.0)) ** 2
_MESH_TIE_MM = 0.5


@dataclass(frozen=True)
class SpinMatchResult:
    """The fitted pose and the twist chosen for each bone slot (rad, 0 for the forearm)."""

    pose: SkeletonPose
    twist: np.ndarray


def palm_frame(joints: np.ndarray) -> np.ndarray:
    """Right-hand palm frame (columns x, y, z) from the wrist and index/middle/little MCPs."""
    wrist = joints[0]
    normal = np.cross(joints[5] - wrist, joints[17] - wrist)
    return frame_from(joints[9] - wrist, normal)


def rotations_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 3, 3) minimal rotations taking unit vectors ``a`` (n, 3) onto ``b`` (n, 3)."""
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=1)
    cos = np.einsum('ij,ij->i', a, b)
    # Opposite vectors: turn by pi about any axis perpendicular to a.
    flip = (sin < 1e-12) & (cos < 0)
    if flip.any():
        helper = np.where(np.abs(a[flip, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis[flip] = np.cross(a[flip], helper)
        sin[flip] = 0.0
    unit = axis / np.maximum(np.linalg.norm(axis, axis=1), 1e-300)[:, None]
    k = np.zeros((len(a), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -unit[:, 2], unit[:, 1], -unit[:, 0]
    k -= np.swapaxes(k, 1, 2)
    angle = np.arctan2(sin, cos)
    eye = np.eye(3)[None]
    out = eye + np.sin(angle)[:, None, None] * k + (1 - np.cos(angle))[:, None, None] * (k @ k)
    same = (sin < 1e-12) & ~flip
    out[same] = np.eye(3)
    return out


def rot_y_batch(theta: np.ndarray) -> np.ndarray:
    """Rotations about local ``y`` by ``theta`` (...,) -> (..., 3, 3)."""
    c, s = np.cos(theta), np.sin(theta)
    out = np.zeros(theta.shape + (3, 3))
    out[..., 0, 0], out[..., 0, 2], out[..., 1, 1] = c, s, 1.0
    out[..., 2, 0], out[..., 2, 2] = -s, c
    return out


def bone_directions(joints: np.ndarray) -> np.ndarray:
    """(20, 3) unit directions of the bones ending at joints 1..20."""
    vec = joints[1:] - joints[PARENT[1:]]
    return vec / np.linalg.norm(vec, axis=1, keepdims=True)


def bone_angles_deg(joints_a: np.ndarray, joints_b: np.ndarray) -> np.ndarray:
    """(20,) angle in degrees between corresponding bones of two hands."""
    cos = np.einsum('ij,ij->i', bone_directions(joints_a), bone_directions(joints_b))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def check_target(target: np.ndarray, where: str = 'target') -> np.ndarray:
    """``target`` as a finite (21, 3) float array whose bones all have a length."""
    joints = np.asarray(target, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f'{where}: keypoints_3d must be 21 x 3, got shape {joints.shape}')
    if not np.all(np.isfinite(joints)):
        raise ValueError(f'{where}: keypoints_3d has non-finite values')
    short = np.nonzero(np.linalg.norm(joints[1:] - joints[PARENT[1:]], axis=1) < 1e-6)[0]
    if len(short):
        raise ValueError(f'{where}: joints {(short + 1).tolist()} coincide with their parent joint '
                         '(zero-length bones)')
    normal = np.cross(joints[5] - joints[0], joints[17] - joints[0])
    if np.linalg.norm(normal) < 1e-6 or np.linalg.norm(np.cross(
            normal, joints[9] - joints[0])) < 1e-6:
        raise ValueError(f'{where}: wrist and index/middle/little MCPs are collinear '
                         '(no palm plane)')
    return joints


def spin_match(template: HandTemplate, target: np.ndarray, *, hand_side: str = 'right',
               lengths: np.ndarray | None = None, match_lengths: bool = False,
               radial: np.ndarray | None = None, target_vertices: np.ndarray | None = None,
               wrist_angles: tuple[float, float] = (0.0, 0.0)) -> SpinMatchResult:
    """Fit the template to ``target`` (21, 3) mm, any frame (algorithm: module docstring).

    Args:
        template: the rigged hand (:func:`poseforge.generation.template.hand_template`).
        target: the target joints, hand21 order, wrist first.
        hand_side: ``'right'`` or ``'left'`` (joints alone cannot tell a flat hand's side).
        lengths: (21,) the template's bone lengths when not matching (default: its rest ones).
        match_lengths: scale every bone to the target's length (joints then equal the target).
        radial: (21,) thickness scale per bone slot (default 1).
        target_vertices: (M, 3) a target mesh's vertices to resolve the twists against.
        wrist_angles: forearm flexion and deviation (rad) relative to the palm.
    """
    if hand_side not in ('right', 'left'):
        raise ValueError(f"hand_side must be 'right' or 'left', got {hand_side!r}")
    target = check_target(target)
    mirror = hand_side == 'left'
    if mirror:
        target = target * MIRROR
        if target_vertices is not None:
            target_vertices = np.asarray(target_vertices, dtype=np.float64) * MIRROR
    scales = _scales(template, target, lengths, match_lengths, radial)
    root = palm_frame(target) @ palm_frame(template.joints).T

    deltas = np.zeros((NUM_JOINTS, 3, 3))
    deltas[0] = root @ rot_x(wrist_angles[0]) @ rot_z(wrist_angles[1])
    twist = np.zeros(NUM_JOINTS)
    joints = np.zeros((NUM_JOINTS, 3))
    joints[0] = target[0]
    tree = cKDTree(target_vertices) if target_vertices is not None else None
    palm_normal = palm_frame(target)[:, 2]
    for depth in range(1, DEPTH.max() + 1):
        slots = np.nonzero(DEPTH == depth)[0]
        parent_delta = root[None] if depth == 1 else deltas[PARENT[slots]]
        inherited = parent_delta @ template.frames[slots]
        direction = _unit(target[slots] - target[PARENT[slots]])
        spun = rotations_between(inherited[:, :, 1], direction) @ inherited
        objective = _joint_objective(slots, spun, target, palm_normal)
        if tree is not None:
            objective = _mesh_objective(template, slots, spun, joints, scales, tree, objective)
        theta = minimise_twist(objective, len(slots))
        frames = spun @ rot_y_batch(theta)
        deltas[slots] = frames @ np.swapaxes(template.frames[slots], 1, 2)
        twist[slots] = theta
        joints[slots] = joints[PARENT[slots]] + frames[:, :, 1] * (
            scales[slots, 1] * template.lengths[slots])[:, None]
    joints = chain_joints(template, target[0], deltas, scales)
    pose = SkeletonPose(root=root, deltas=deltas, scales=scales, joints=joints, mirror=mirror)
    return SpinMatchResult(pose=pose, twist=twist)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _scales(template: HandTemplate, target: np.ndarray, lengths: np.ndarray | None,
            match_lengths: bool, radial: np.ndarray | None) -> np.ndarray:
    if match_lengths:
        wanted = np.linalg.norm(target - target[np.maximum(PARENT, 0)], axis=1)
        wanted[0] = template.lengths[0]
    elif lengths is not None:
        wanted = np.asarray(lengths, dtype=np.float64).copy()
        wanted[0] = template.lengths[0]
    else:
        wanted = template.lengths
    scales = np.ones((NUM_JOINTS, 3))
    scales[:, 1] = wanted / template.lengths
    if radial is not None:
        scales[:, 0] = scales[:, 2] = np.asarray(radial, dtype=np.float64)
    return scales


# --------------------------------------------------------------------------- objectives
Objective = Callable[[np.ndarray], np.ndarray]   # theta (n, K) -> cost (n, K)


def _joint_objective(slots: np.ndarray, spun: np.ndarray, target: np.ndarray,
                     palm_normal: np.ndarray) -> Objective:
    """The joint-based twist cost of each slot (see step 5 of the module docstring)."""
    hinge = np.isin(slots, HINGE_SLOTS)
    palm = np.isin(slots, METACARPALS)
    child = np.where(CHILD[slots] >= 0, CHILD[slots], slots)
    # Fingertips have no next bone: their own direction stands in (its hinge term is unused).
    next_dir = np.where((CHILD[slots] >= 0)[:, None], target[child] - target[slots],
                        target[slots] - target[PARENT[slots]])
    next_dir = _unit(next_dir)
    u0 = np.einsum('nji,nj->ni', spun, next_dir)              # next bone in the spun frame
    bend = np.clip(1.0 - u0[:, 1] ** 2, 0.0, None)            # sin^2 of the bend
    fade = np.where(hinge, bend / (bend + _STRAIGHT), 0.0)
    finger = (slots - 1) // 4
    column = np.clip(DEPTH[child] - 1, 0, 3)
    limits = np.radians(FINGER_LIMITS_DEG[finger, column])    # (n, 2)
    x0n = spun[:, :, 0] @ palm_normal
    z0n = spun[:, :, 2] @ palm_normal

    def cost(theta: np.ndarray) -> np.ndarray:
        c, s = np.cos(theta), np.sin(theta)
        ux = c * u0[:, :1] - s * u0[:, 2:]
        uz = s * u0[:, :1] + c * u0[:, 2:]
        flex = np.arctan2(uz, u0[:, 1:2])
        outside = (np.clip(limits[:, :1] - _LIMIT_SLACK - flex, 0.0, None)
                   + np.clip(flex - limits[:, 1:] - _LIMIT_SLACK, 0.0, None))
        plane = ux ** 2 / np.maximum(bend[:, None], 1e-12) + outside ** 2
        continuity = 1.0 - c
        palm_term = (c * x0n[:, None] - s * z0n[:, None]) ** 2 + 0.01 * continuity
        out = np.where(fade[:, None] > 0, fade[:, None] * plane, 0.0) + (
            1 - fade[:, None]) * continuity
        return np.where(palm[:, None], palm_term, out)

    return cost


def _mesh_objective(template: HandTemplate, slots: np.ndarray, spun: np.ndarray,
                    joints: np.ndarray, scales: np.ndarray, tree: cKDTree,
                    joint_cost: Objective) -> Objective:
    """One-sided Chamfer distance (mm) from each bone's own vertices to the target mesh."""
    local = []
    for slot in slots:
        core = template.core_vertices(slot)
        if len(core) < 20:
            core = template.core_vertices(slot, threshold=0.5)
        rest = (template.vertices[core] - template.origins[slot]) @ template.frames[slot]
        local.append(rest * scales[slot])
    starts = joints[PARENT[slots]]

    def cost(theta: np.ndarray) -> np.ndarray:
        out = np.empty(theta.shape)
        for i in range(len(slots)):
            frames = spun[i] @ rot_y_batch(theta[i])                 # (K, 3, 3)
            posed = np.einsum('kij,mj->kmi', frames, local[i]) + starts[i]
            dist, _ = tree.query(posed.reshape(-1, 3))
            out[i] = dist.reshape(len(theta[i]), -1).mean(1)
        return out + _MESH_TIE_MM * joint_cost(theta)

    return cost


def minimise_twist(cost: Objective, n: int) -> np.ndarray:
    """Per-row minimiser of ``cost`` over the circle: coarse grid, two finer grids, parabola."""
    grid = np.linspace(-np.pi, np.pi, _GRID, endpoint=False)
    theta = np.tile(grid, (n, 1))
    best = theta[np.arange(n), np.argmin(cost(theta), axis=1)]
    step = 2 * np.pi / _GRID
    for _ in range(2):
        offsets = np.linspace(-step, step, 21)
        theta = best[:, None] + offsets[None]
        best = theta[np.arange(n), np.argmin(cost(theta), axis=1)]
        step = offsets[1] - offsets[0]
    theta = best[:, None] + np.array([-step, 0.0, step])[None]
    values = cost(theta)
    curvature = values[:, 0] - 2 * values[:, 1] + values[:, 2]
    shift = np.where(curvature > 1e-15,
                     0.5 * step * (values[:, 0] - values[:, 2]) / np.maximum(curvature, 1e-15),
                     0.0)
    best = best + np.clip(shift, -step, step)
    return (best + np.pi) % (2 * np.pi) - np.pi


__all__ = ['HINGE_SLOTS', 'SpinMatchResult', 'bone_angles_deg', 'bone_directions',
           'check_target', 'minimise_twist', 'palm_frame', 'rotations_between', 'spin_match']
