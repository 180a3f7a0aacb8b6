"""A procedural, articulated hand: anatomy, 21 labelled joints, forward kinematics.

Why procedural: poseforge must train and test without downloading anything, so the default data
comes from a hand built here from a handful of anatomical measurements (mm). The labelled joints
*are* the kinematic joints, so the labels are exact by construction. The skin is built from this
anatomy once, as the single watertight, skinned template of :mod:`poseforge.generation.template`
(phalanges are tapered elliptical capsules, the palm and thenar eminence soft hulls of spheres,
plus a forearm stub); this module keeps the measurements, the skeleton and the mesh container.

Hand frame (right hand, millimetres): the wrist joint at the origin, ``+y`` towards the fingers,
``+x`` towards the thumb (radial side), ``+z`` out of the palm (palmar side). Each finger has a
rest frame whose columns are ``x`` (flexion axis), ``y`` (along the finger) and ``z`` (the
direction the finger curls to); flexion is a positive rotation about the local ``x`` axis.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import trimesh

from poseforge.skeletons import HAND_FINGERS

NUM_JOINTS = 21
NUM_FINGERS = len(HAND_FINGERS)

#: Part ids written per face (and per pixel by the renderer); 0 is the background.
PART_FOREARM = 1
PART_PALM = 2
PART_THENAR = 3
PART_FINGER0 = 4  # finger f, segment s (root -> tip) has id PART_FINGER0 + 3 * f + s
#: Parts that count as "hand" in masks and boxes (the forearm does not).
HAND_PART_MIN = PART_PALM


# --------------------------------------------------------------------------- rotations
def rot_x(angle: float) -> np.ndarray:
    """Rotation about ``x`` by ``angle`` rad; moves ``+y`` towards ``+z`` (finger flexion)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """Rotation about ``y`` by ``angle`` rad (axial twist of a finger)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle: float) -> np.ndarray:
    """Rotation about ``z`` by ``angle`` rad; moves ``+y`` towards ``-x``."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def frame_from(y_axis, z_hint) -> np.ndarray:
    """Right-handed frame (columns x, y, z): ``y`` along ``y_axis``, ``z`` closest to ``z_hint``."""
    y = np.asarray(y_axis, dtype=np.float64)
    y = y / np.linalg.norm(y)
    z = np.asarray(z_hint, dtype=np.float64)
    z = z - y * (z @ y)
    z = z / np.linalg.norm(z)
    return np.stack([np.cross(y, z), y, z], axis=1)


# --------------------------------------------------------------------------- hand shape
@dataclass(frozen=True)
class HandShape:
    """The anatomy of one hand, in millimetres, in the hand frame (see module docstring).

    Attributes:
        roots: (5, 3) first joint of each finger: thumb CMC, then index..little MCP.
        rest_frames: (5, 3, 3) each finger's rest orientation (columns x, y, z).
        lengths: (5, 3) bone lengths from the root joint to the tip.
        radii: (5, 4) skin radius at each of the finger's four joints.
        flatten: (5,) ratio of palmar-dorsal to lateral finger thickness (fingers are oval).
        palm_anchors, palm_radii: (A, 3), (A,) spheres whose convex hull is the palm.
        forearm_radii: radius at the wrist and at the far end.
        forearm_length: length of the forearm stub.
        thumb_twist: axial pronation of the thumb per radian of CMC flexion (opposition).
    """

    roots: np.ndarray
    rest_frames: np.ndarray
    lengths: np.ndarray
    radii: np.ndarray
    flatten: np.ndarray
    palm_anchors: np.ndarray
    palm_radii: np.ndarray
    forearm_radii: tuple[float, float] = (23.0, 28.0)
    forearm_length: float = 320.0
    thumb_twist: float = 0.6

    @property
    def hand_length(self) -> float:
        """Wrist to middle fingertip along the straight finger, a size reference in mm."""
        return float(np.linalg.norm(self.roots[2]) + self.lengths[2].sum())


def _rest_frames() -> np.ndarray:
    """Rest orientation of each finger: the four fingers fan out, the thumb is pronated."""
    splay_deg = (6.0, 0.0, -6.0, -13.0)  # radial-positive, index..little
    frames = [frame_from((0.55, 0.75, 0.38), (-0.6, 0.5, 0.6))]  # thumb: nail faces radially
    frames += [rot_z(-np.radians(a)) for a in splay_deg]
    return np.stack(frames)


def default_shape() -> HandShape:
    """An average adult right hand (hand length about 185 mm)."""
    roots = np.array([[19.0, 26.0, 9.0], [24.0, 86.0, 2.0], [4.0, 90.0, 0.0],
                      [-15.0, 85.0, 1.0], [-32.0, 76.0, 4.0]])
    lengths = np.array([[42.0, 32.0, 27.0], [41.0, 24.0, 21.0], [45.0, 28.0, 23.0],
                        [42.0, 27.0, 22.0], [33.0, 20.0, 19.0]])
    radii = np.array([[12.5, 10.0, 9.5, 8.0], [9.5, 8.5, 7.5, 6.5], [9.8, 8.7, 7.6, 6.6],
                      [9.2, 8.1, 7.1, 6.2], [8.0, 7.1, 6.3, 5.5]])
    flatten = np.array([0.88, 0.85, 0.85, 0.85, 0.85])
    return HandShape(roots=roots, rest_frames=_rest_frames(), lengths=lengths, radii=radii,
                     flatten=flatten, **_palm_spheres(roots, radii))


def _palm_spheres(roots: np.ndarray, radii: np.ndarray) -> dict:
    """Spheres spanning the palm: knuckles, mid palm and the wrist (derived from the roots)."""
    knuckles = roots[1:] + np.array([0.0, -2.0, 0.0])
    index, little = roots[1], roots[4]
    anchors = np.vstack([
        knuckles,
        [index[0] * 0.85, index[1] * 0.55, 3.0],     # radial mid palm
        [little[0] * 0.9, little[1] * 0.55, 4.0],    # hypothenar
        [0.0, 0.55 * roots[2][1], 2.0],              # palm centre
        [17.0, 13.0, 1.0], [-17.0, 13.0, 1.0],       # wrist, radial and ulnar
        [0.0, 5.0, 0.0]])
    palm_radii = np.concatenate([radii[1:, 0], [13.0, 13.0, 13.5, 12.0, 12.0, 13.0]])
    return dict(palm_anchors=anchors, palm_radii=palm_radii)


def sample_shape(rng: np.random.Generator, scale_range: tuple[float, float] = (0.85, 1.15),
                 jitter: float = 0.06) -> HandShape:
    """A random hand: global size, per-bone length and per-finger thickness variation.

    Why: a model trained on one hand size learns the size, not the pose; real hands vary by
    about +-15 % in length and a little more in thickness.
    """
    base = default_shape()
    scale = rng.uniform(*scale_range)
    lengths = base.lengths * scale * rng.uniform(1 - jitter, 1 + jitter, size=(5, 3))
    thickness = rng.uniform(0.9, 1.12) * rng.uniform(1 - jitter, 1 + jitter, size=(5, 1))
    radii = base.radii * scale * thickness
    roots = base.roots * scale * rng.uniform(1 - jitter / 2, 1 + jitter / 2, size=(5, 3))
    palm = _palm_spheres(roots, radii)
    palm['palm_radii'] = palm['palm_radii'] * np.concatenate(
        [np.ones(4), np.full(6, scale * rng.uniform(0.92, 1.1))])
    palm['palm_anchors'][7:] *= np.array([scale, scale, 1.0])   # the wrist spheres' constants
    forearm = tuple(float(r) * scale * rng.uniform(0.9, 1.1) for r in base.forearm_radii)
    return replace(base, roots=roots, lengths=lengths, radii=radii, forearm_radii=forearm,
                   **palm)


# --------------------------------------------------------------------------- kinematics
def forward_kinematics(shape: HandShape, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions (21, 3) and bone rotations (5, 3, 3, 3) for finger ``angles`` (5, 4).

    ``angles[f] = (abduction, flex1, flex2, flex3)`` in radians: abduction turns the finger
    about its palm normal (positive = radial, towards the thumb), each flexion bends the next
    bone towards the palm. For the thumb, ``abduction`` moves it out of the palm plane and
    ``flex1`` across the palm, with the coupled axial pronation of opposition.
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(NUM_FINGERS, 4)
    joints = np.zeros((NUM_JOINTS, 3))
    bones = np.zeros((NUM_FINGERS, 3, 3, 3))
    for f in range(NUM_FINGERS):
        rot = shape.rest_frames[f] @ rot_z(-angles[f, 0]) @ rot_x(angles[f, 1])
        if f == 0:
            rot = rot @ rot_y(shape.thumb_twist * angles[f, 1])
        point = shape.roots[f]
        joints[1 + 4 * f] = point
        for s in range(3):
            if s > 0:
                rot = rot @ rot_x(angles[f, s + 1])
            bones[f, s] = rot
            point = point + rot[:, 1] * shape.lengths[f, s]
            joints[2 + 4 * f + s] = point
    return joints, bones


# --------------------------------------------------------------------------- mesh data
@dataclass
class HandMesh:
    """Triangle mesh as plain arrays (fast to transform and render; see :meth:`to_trimesh`).

    Attributes:
        vertices: (N, 3) float64 positions, mm.
        normals: (N, 3) float64 unit outward normals (analytic, for smooth shading).
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        face_part: (F,) uint8 part id (``PART_*``).
        nail: (N,) float32 in [0, 1]: how much of a fingernail a vertex shows (albedo cue).
        palmar: (N,) float32 in [-1, 1]: cosine between the normal and the palmar direction of
            the vertex's part (each finger's own, the thumb's included), for the palm tone.
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    nail: np.ndarray
    palmar: np.ndarray

    def transformed(self, rotation: np.ndarray, translation=(0.0, 0.0, 0.0)) -> 'HandMesh':
        """The mesh moved rigidly: ``x -> rotation @ x + translation``."""
        rotation = np.asarray(rotation, dtype=np.float64)
        return replace(self, vertices=self.vertices @ rotation.T + np.asarray(translation),
                       normals=self.normals @ rotation.T)

    def mirrored_x(self) -> 'HandMesh':
        """The mesh mirrored in ``x`` (right hand -> left hand), winding kept outward."""
        flip = np.array([-1.0, 1.0, 1.0])
        return replace(self, vertices=self.vertices * flip, normals=self.normals * flip,
                       faces=self.faces[:, ::-1].copy())

    def to_trimesh(self) -> trimesh.Trimesh:
        """A :class:`trimesh.Trimesh` (unprocessed, so vertex order and normals are kept)."""
        mesh = trimesh.Trimesh(vertices=self.vertices, faces=self.faces,
                               vertex_normals=self.normals, process=False)
        mesh.metadata['face_part'] = self.face_part
        return mesh
