"""The hand template: one watertight triangle mesh with skinning weights over the 21 joints.

Why one mesh: MVHM's spin match poses a single rigged hand mesh (Sec. "spin match" of
``docs/methods.md``); a union of loose primitives cannot be skinned smoothly, has no single
surface for depth and masks, and leaves creases where parts meet.

How the template is built (once per process, about a second, deterministic; see
:func:`hand_template`):

1. **Implicit hand** and 2. **Surface**: :mod:`poseforge.generation.implicit_surface` turns the
   procedural anatomy of :mod:`poseforge.generation.hand_model` (default adult right hand, rest
   pose) into a signed distance field (phalanx capsules, palm and thenar hulls, a forearm stub,
   smoothly blended) and meshes its zero level with surface nets into one watertight,
   consistently wound mesh; vertex normals are the field's gradient.
3. **Skinning weights.** Each vertex is first bound to one bone: the part whose field is
   smallest there says which finger, palm, thenar or forearm it belongs to, and among that
   part's bones the nearest bone segment wins (so the boundary between two phalanges is the
   plane through their joint, not whichever capsule bulges more). The one-hot weights are then
   diffused over the mesh graph (:data:`WEIGHT_SMOOTHING` steps of neighbour averaging), which
   blends a few millimetres around each joint and respects topology (the index finger's skin
   never follows the middle finger across the gap between them). The four largest weights per
   vertex are kept.

Bones ("slots"): slot ``j`` (1..20) is the bone that ends at joint ``j`` and starts at its
parent joint (:data:`PARENT`); slot 0 is the forearm, anchored at the wrist and pointing down the
arm. The metacarpals (slots 1, 5, 9, 13, 17: wrist -> thumb CMC / finger MCP) lie inside the
palm, so matching the MCPs of a target deforms the palm. Every slot has a rest frame (columns
``x`` flexion axis, ``y`` along the bone, ``z`` palmar side) in the hand frame of
:mod:`hand_model`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import trimesh

from poseforge.generation.hand_model import (NUM_FINGERS, NUM_JOINTS, PART_FINGER0,
                                             PART_FOREARM, PART_PALM, PART_THENAR, HandShape,
                                             default_shape, forward_kinematics, frame_from,
                                             rot_z)
from poseforge.generation.implicit_surface import (FOREARM_LENGTH_MM, ImplicitParts,
                                                   field_gradient, implicit_parts,
                                                   watertight_surface)
#: Neighbour-averaging steps that spread the one-hot skinning weights around the joints.
WEIGHT_SMOOTHING = 10
#: Bones that influence one vertex at most.
MAX_INFLUENCES = 4

#: Parent joint of each joint (hand21); slot j's bone runs from PARENT[j] to j. PARENT[0] = -1.
PARENT = np.array([-1] + [0 if i % 4 == 0 else 1 + f * 4 + i - 1
                          for f in range(NUM_FINGERS) for i in range(4)])
#: Metacarpal slots (wrist -> thumb CMC, index..little MCP).
METACARPALS = np.array([1, 5, 9, 13, 17])
#: Depth of each slot in the kinematic tree (metacarpals 1, fingertips 4; forearm 0).
DEPTH = np.array([0] + [1 + i for _ in range(NUM_FINGERS) for i in range(4)])
#: Child slot of each slot (-1 at the fingertips and for the forearm).
CHILD = np.array([-1] + [1 + f * 4 + i + 1 if i < 3 else -1
                         for f in range(NUM_FINGERS) for i in range(4)])


# --------------------------------------------------------------------------- the template
@dataclass(frozen=True)
class HandTemplate:
    """The rigged rest-pose hand (right hand, hand frame, mm).

    Attributes:
        vertices, normals: (N, 3) rest positions and unit outward normals.
        faces: (F, 3) int64, counter-clockwise seen from outside.
        face_part: (F,) uint8 part id (``hand_model.PART_*``).
        nail, palmar: (N,) float32 albedo cues (see :class:`hand_model.HandMesh`).
        joints: (21, 3) rest joint positions (hand21 order).
        frames: (21, 3, 3) rest frame of each bone slot (columns x, y, z).
        lengths: (21,) rest bone lengths (slot 0: the forearm stub).
        joint_radii: (21,) skin radius around each joint (0 at the fingertips, on the surface).
        weight_index, weight_value: (N, 4) the bones moving each vertex and their weights.
        vertex_bone: (N,) the bone each vertex was bound to before smoothing.
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    nail: np.ndarray
    palmar: np.ndarray
    joints: np.ndarray
    frames: np.ndarray
    lengths: np.ndarray
    joint_radii: np.ndarray
    weight_index: np.ndarray
    weight_value: np.ndarray
    vertex_bone: np.ndarray

    @property
    def origins(self) -> np.ndarray:
        """(21, 3) rest position of each slot's start joint (slot 0: the wrist)."""
        return self.joints[np.maximum(PARENT, 0)]

    def bone_weights(self) -> np.ndarray:
        """Dense (N, 21) weight matrix (rows sum to 1)."""
        dense = np.zeros((len(self.vertices), NUM_JOINTS))
        np.put_along_axis(dense, self.weight_index, self.weight_value, axis=1)
        return dense

    def core_vertices(self, slot: int, threshold: float = 0.95) -> np.ndarray:
        """Indices of the vertices that bone ``slot`` alone moves (weight >= ``threshold``)."""
        weight = np.where(self.weight_index == slot, self.weight_value, 0.0).sum(1)
        return np.nonzero(weight >= threshold)[0]

    def to_trimesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(vertices=self.vertices, faces=self.faces,
                               vertex_normals=self.normals, process=False)


@lru_cache(maxsize=1)
def hand_template() -> HandTemplate:
    """The template built from :func:`hand_model.default_shape` (cached per process)."""
    return build_template(default_shape())


def build_template(shape: HandShape) -> HandTemplate:
    """Build the rigged mesh of ``shape`` at rest (steps in the module docstring)."""
    joints, bones = forward_kinematics(shape, np.zeros((NUM_FINGERS, 4)))
    frames, lengths = rest_skeleton(joints, bones)
    parts = implicit_parts(shape, joints, bones)
    vertices, faces = watertight_surface(parts, joints)
    normals = field_gradient(parts, vertices)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    part = nearest_part(parts, vertices)
    bone = bind_bones(vertices, part, joints)
    weight_index, weight_value = smooth_weights(bone, faces, len(vertices))
    face_part = part.ids[part.index[faces]].max(1).astype(np.uint8)
    nail, palmar = vertex_cues(vertices, normals, bone, part, joints, frames, shape)
    radii = np.concatenate([[shape.forearm_radii[0]], shape.radii.reshape(-1)])
    radii[4::4] = 0.0
    return HandTemplate(vertices=vertices, normals=normals, faces=faces, face_part=face_part,
                        nail=nail, palmar=palmar, joints=joints, frames=frames,
                        lengths=lengths, joint_radii=radii, weight_index=weight_index,
                        weight_value=weight_value, vertex_bone=bone)


def shape_scales(template: HandTemplate, shape: HandShape) -> tuple[np.ndarray, np.ndarray]:
    """Bone lengths (21,) and thickness scales (21,) that turn the template into ``shape``.

    Lengths come from ``shape``'s skeleton at rest; thickness is each finger's radius ratio to
    the default hand (the palm and metacarpals take the palm spheres' mean ratio, the forearm
    its own).
    """
    joints, _ = forward_kinematics(shape, np.zeros((NUM_FINGERS, 4)))
    lengths = np.linalg.norm(joints - joints[np.maximum(PARENT, 0)], axis=1)
    lengths[0] = template.lengths[0]
    base = default_shape()
    radial = np.ones(NUM_JOINTS)
    finger = shape.radii[:, :3].mean(1) / base.radii[:, :3].mean(1)
    for f in range(NUM_FINGERS):
        radial[2 + 4 * f:5 + 4 * f] = finger[f]
    radial[METACARPALS] = float(np.mean(shape.palm_radii / base.palm_radii))
    radial[0] = shape.forearm_radii[0] / base.forearm_radii[0]
    return lengths, radial


def rest_skeleton(joints: np.ndarray, bones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest frames (21, 3, 3) and lengths (21,) of the bone slots.

    Phalanges take the frames of :func:`hand_model.forward_kinematics` (flexion about local
    ``x``); metacarpals point from the wrist to their MCP with ``z`` as palmar as possible; the
    forearm points down the arm (``-y``) with the palmar side kept.
    """
    frames = np.zeros((NUM_JOINTS, 3, 3))
    frames[0] = rot_z(np.pi)
    for f in range(NUM_FINGERS):
        root = 1 + 4 * f
        frames[root] = frame_from(joints[root] - joints[0], (0.0, 0.0, 1.0))
        frames[root + 1:root + 4] = bones[f]
    lengths = np.linalg.norm(joints - joints[np.maximum(PARENT, 0)], axis=1)
    lengths[0] = FOREARM_LENGTH_MM
    return frames, lengths


# --------------------------------------------------------------------------- binding
@dataclass(frozen=True)
class _VertexPart:
    index: np.ndarray    # (V,) field index of each vertex
    ids: np.ndarray      # (P,) part id of each field


def nearest_part(parts: ImplicitParts, vertices: np.ndarray) -> _VertexPart:
    """The part whose own field is smallest at each vertex (which part the skin belongs to)."""
    return _VertexPart(np.argmin(parts.values(vertices), axis=0), parts.ids)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (M,) from points to the segment ``a``-``b``."""
    ab = b - a
    t = np.clip((points - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def bind_bones(vertices: np.ndarray, part: _VertexPart, joints: np.ndarray) -> np.ndarray:
    """One bone slot per vertex: the nearest bone segment among its part's candidates."""
    slots = np.arange(NUM_JOINTS)
    starts = joints[np.maximum(PARENT, 0)]
    ends = joints.copy()
    ends[0] = joints[0] + np.array([0.0, -FOREARM_LENGTH_MM, 0.0])
    distance = np.stack([_segment_distance(vertices, starts[s], ends[s]) for s in slots], 1)
    candidates = np.zeros((len(part.ids), NUM_JOINTS), dtype=bool)
    for field, bones in enumerate(part_bones(part.ids)):
        candidates[field, list(bones)] = True
    distance = np.where(candidates[part.index], distance, np.inf)
    return np.argmin(distance, axis=1)


def part_bones(ids: np.ndarray) -> list[tuple[int, ...]]:
    """Candidate slots per part id (finger segments: that finger's phalanges)."""
    out = []
    for pid in ids:
        if pid == PART_FOREARM:
            out.append((0,))
        elif pid == PART_PALM:
            out.append((1, 5, 9, 13, 17))
        elif pid == PART_THENAR:
            out.append((1, 2))
        else:
            f = (pid - PART_FINGER0) // 3
            out.append(tuple(range(2 + 4 * f, 5 + 4 * f)))
    return out


def smooth_weights(bone: np.ndarray, faces: np.ndarray, num_vertices: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One-hot bone weights diffused over the mesh graph; the top :data:`MAX_INFLUENCES`."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                              shape=(num_vertices, num_vertices)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64) + sp.identity(num_vertices)
    step = sp.diags(1.0 / np.asarray(adjacency.sum(1)).ravel()) @ adjacency
    weights = np.zeros((num_vertices, NUM_JOINTS))
    weights[np.arange(num_vertices), bone] = 1.0
    for _ in range(WEIGHT_SMOOTHING):
        weights = step @ weights
    index = np.argsort(-weights, axis=1, kind='stable')[:, :MAX_INFLUENCES]
    value = np.take_along_axis(weights, index, axis=1)
    value /= value.sum(1, keepdims=True)
    return index.astype(np.int64), value


def vertex_cues(vertices: np.ndarray, normals: np.ndarray, bone: np.ndarray, part: _VertexPart,
                joints: np.ndarray, frames: np.ndarray, shape: HandShape
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex fingernail coverage and palmar cosine (albedo cues, fixed at rest).

    Palmar: the cosine between the normal and the palmar axis (``z``) of the vertex's bone;
    the thumb metacarpal's palmar side is tilted towards the palm's, as in ``hand_model``.
    Nails: the dorsal side of the distal two thirds of each distal phalanx.
    """
    axes = frames[:, :, 2].copy()
    axes[[0, 1, 5, 9, 13, 17]] = np.array([0.0, 0.0, 1.0])
    axes[2] = axes[2] + np.array([0.0, 0.0, 1.5])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    palmar = np.einsum('ij,ij->i', normals, axes[bone]).astype(np.float32)
    nail = np.zeros(len(vertices), dtype=np.float32)
    for f in range(NUM_FINGERS):
        slot = 4 + 4 * f
        on = (bone == slot) & (part.ids[part.index] >= PART_FINGER0)
        local = (vertices[on] - joints[slot - 1]) @ frames[slot]
        radius = shape.radii[f, 2]
        length = shape.lengths[f, 2]
        across = local[:, 0] / radius
        dorsal = -local[:, 2] / (radius * shape.flatten[f])
        along = local[:, 1] / length
        inside = (dorsal > 0.55) & (np.abs(across) < 0.8) & (along > 0.3)
        nail[on] = inside * np.clip((dorsal - 0.55) / 0.2, 0.0, 1.0)
    return nail, palmar


__all__ = ['CHILD', 'DEPTH', 'HandTemplate', 'METACARPALS', 'PARENT', 'build_template',
           'hand_template', 'shape_scales']
