"""Posing the hand template: skeleton kinematics and linear blend skinning (LBS).

A pose (:class:`SkeletonPose`) gives every bone slot of :mod:`template` a world frame, a start
point and a scale in its rest frame (``x`` across, ``y`` along, ``z`` palmar). Each bone moves
its vertices by the affine map ``v -> G S F0^T (v - o0) + o`` (rest frame ``F0`` and start
``o0``, posed frame ``G`` and start ``o``, scale ``S``), and a vertex moves by the weighted sum of
its bones' maps (LBS). Scales stretch a bone to a target's length (MVHM "match lengths") and
thicken or thin a finger; normals follow the inverse transpose of the blended linear part.

Left hands are mirrored right hands (``mirror=True``): the right template is posed in the
mirrored world and the result is reflected back through ``x = 0`` (winding kept outward).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from poseforge.generation.hand_model import NUM_JOINTS, HandMesh
from poseforge.generation.template import DEPTH, PARENT, HandTemplate

MIRROR = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class SkeletonPose:
    """A posed skeleton in the world frame (mm).

    Attributes:
        root: (3, 3) rotation of the hand frame (the palm) into the world.
        deltas: (21, 3, 3) rotation of each bone slot from rest to posed, ``G = delta @ F0``.
        scales: (21, 3) scale of each slot along its rest axes (x, y = along the bone, z).
        joints: (21, 3) posed joint positions (hand21), the labels.
        mirror: a left hand (the pose is of the mirrored right hand; see module docstring).
    """

    root: np.ndarray
    deltas: np.ndarray
    scales: np.ndarray
    joints: np.ndarray
    mirror: bool = False

    def frames(self, template: HandTemplate) -> np.ndarray:
        """(21, 3, 3) posed bone frames (before mirroring)."""
        return self.deltas @ template.frames

    def world_joints(self) -> np.ndarray:
        """Joints in the world (mirrored back for a left hand)."""
        return self.joints * MIRROR if self.mirror else self.joints

    def local_rotations(self) -> np.ndarray:
        """(21, 3, 3) each slot's rotation relative to its parent's (the root for slot 0 and
        the metacarpals), the quantities a sequence interpolates."""
        parent = np.where(DEPTH <= 1, -1, PARENT)
        parent_delta = np.where((parent < 0)[:, None, None], self.root[None],
                                self.deltas[np.maximum(parent, 0)])
        return np.swapaxes(parent_delta, 1, 2) @ self.deltas


def chain_joints(template: HandTemplate, wrist: np.ndarray, deltas: np.ndarray,
                 scales: np.ndarray) -> np.ndarray:
    """Joint positions (21, 3) from the wrist outwards along the posed bones."""
    frames = deltas @ template.frames
    joints = np.zeros((NUM_JOINTS, 3))
    joints[0] = wrist
    offsets = frames[:, :, 1] * (scales[:, 1] * template.lengths)[:, None]
    for depth in range(1, DEPTH.max() + 1):
        slots = np.nonzero(DEPTH == depth)[0]
        joints[slots] = joints[PARENT[slots]] + offsets[slots]
    return joints


def pose_from_local(template: HandTemplate, root: np.ndarray, local: np.ndarray,
                    wrist: np.ndarray, scales: np.ndarray, mirror: bool = False
                    ) -> SkeletonPose:
    """The inverse of :meth:`SkeletonPose.local_rotations`: compose rotations outwards."""
    deltas = np.zeros((NUM_JOINTS, 3, 3))
    for depth in range(0, DEPTH.max() + 1):
        slots = np.nonzero(DEPTH == depth)[0]
        if depth <= 1:
            deltas[slots] = root @ local[slots]
        else:
            deltas[slots] = deltas[PARENT[slots]] @ local[slots]
    joints = chain_joints(template, wrist, deltas, scales)
    return SkeletonPose(root=root, deltas=deltas, scales=scales, joints=joints, mirror=mirror)


def rest_pose(template: HandTemplate) -> SkeletonPose:
    """The template as built: identity rotations, unit scales, wrist at the origin."""
    deltas = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    return SkeletonPose(root=np.eye(3), deltas=deltas, scales=np.ones((NUM_JOINTS, 3)),
                        joints=template.joints.copy())


def bone_transforms(template: HandTemplate, pose: SkeletonPose
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per-slot affine maps ``v -> A v + c`` (A (21, 3, 3), c (21, 3)) from rest to posed."""
    frames = pose.deltas @ template.frames
    linear = frames * pose.scales[:, None, :] @ np.swapaxes(template.frames, 1, 2)
    origins = pose.joints[np.maximum(PARENT, 0)]
    offset = origins - np.einsum('bij,bj->bi', linear, template.origins)
    return linear, offset


def skin(template: HandTemplate, pose: SkeletonPose) -> HandMesh:
    """The posed mesh (world frame, mirrored for a left hand)."""
    linear, offset = bone_transforms(template, pose)
    # Linear blend over each vertex's few bones, one bone slot at a time: the same sums in the
    # same order as ``(linear[index] * weight).sum(1)``, without its (N, 4, 3, 3) temporary.
    index, weight = template.weight_index, template.weight_value
    blend = linear[index[:, 0]] * weight[:, 0, None, None]                 # (N, 3, 3)
    shift = offset[index[:, 0]] * weight[:, 0, None]
    for slot in range(1, index.shape[1]):
        blend += linear[index[:, slot]] * weight[:, slot, None, None]
        shift += offset[index[:, slot]] * weight[:, slot, None]
    vertices = np.einsum('nij,nj->ni', blend, template.vertices) + shift
    # Normals transform by the cofactor matrix (det * inverse transpose; det > 0 here).
    c0, c1, c2 = blend[:, :, 0], blend[:, :, 1], blend[:, :, 2]
    cofactor = np.stack([np.cross(c1, c2), np.cross(c2, c0), np.cross(c0, c1)], axis=2)
    normals = np.einsum('nij,nj->ni', cofactor, template.normals)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    mesh = HandMesh(vertices=vertices, normals=normals, faces=template.faces,
                    face_part=template.face_part, nail=template.nail, palmar=template.palmar)
    return mesh.mirrored_x() if pose.mirror else mesh


def slerp_poses(template: HandTemplate, a: SkeletonPose, b: SkeletonPose, t: float
                ) -> SkeletonPose:
    """The pose a fraction ``t`` of the way from ``a`` to ``b``.

    Every local joint rotation (and the root) moves along the shortest arc (slerp), the wrist
    position and the scales linearly, and the joints follow by forward kinematics, so bone
    lengths stay fixed and each hinge stays a hinge.
    """
    if a.mirror != b.mirror:
        raise ValueError('cannot interpolate between a left and a right hand')
    rot_a = Rotation.from_matrix(np.concatenate([a.root[None], a.local_rotations()]))
    rot_b = Rotation.from_matrix(np.concatenate([b.root[None], b.local_rotations()]))
    step = (rot_a.inv() * rot_b).as_rotvec()
    mid = (rot_a * Rotation.from_rotvec(t * step)).as_matrix()
    wrist = (1 - t) * a.joints[0] + t * b.joints[0]
    scales = (1 - t) * a.scales + t * b.scales
    return pose_from_local(template, mid[0], mid[1:], wrist, scales, a.mirror)


__all__ = ['MIRROR', 'SkeletonPose', 'bone_transforms', 'chain_joints', 'pose_from_local',
           'rest_pose', 'skin', 'slerp_poses']
