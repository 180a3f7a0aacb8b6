"""A procedural, articulated hand: 21 labelled joints and a closed triangle mesh around them.

Why procedural: poseforge must train and test without downloading anything, so the default data
comes from a hand built here from a handful of anatomical measurements (mm). The labelled joints
*are* the kinematic joints of the mesh, so the labels are exact by construction.

Hand frame (right hand, millimetres): the wrist joint at the origin, ``+y`` towards the fingers,
``+x`` towards the thumb (radial side), ``+z`` out of the palm (palmar side). Each finger has a
rest frame whose columns are ``x`` (flexion axis), ``y`` (along the finger) and ``z`` (the
direction the finger curls to); flexion is a positive rotation about the local ``x`` axis.

Geometry:

* every bone (thumb metacarpal, every phalanx) is a tapered capsule with elliptical cross-section
  whose end caps are centred on its joints, so consecutive segments overlap at the joint
  spheres and never open a gap when the finger bends; the distal capsule is shortened by its tip
  radius so that the skin ends exactly at the fingertip keypoint;
* the palm is the convex hull of spheres at the knuckles and the wrist (rigid per hand shape);
* the thenar eminence and the thumb web are the convex hull of spheres placed along the posed
  thumb metacarpal and at the index base (recomputed per pose, so they follow the thumb);
* a tapered forearm leaves the wrist, rotated by wrist flexion/deviation (not labelled, but it
  puts the wrist keypoint where a real wrist is: at the palm/forearm junction).

Vertex normals are analytic (capsule formula, sphere normals on the hulls), so Phong shading
looks smooth with modest face counts (about 4k faces).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

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

_ICO_SUBDIVISIONS = 1  # 42 points per hull sphere: smooth enough, cheap to hull


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


def concatenate(meshes: list[HandMesh]) -> HandMesh:
    """One mesh from several (vertex indices offset)."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return HandMesh(
        vertices=np.concatenate([m.vertices for m in meshes]),
        normals=np.concatenate([m.normals for m in meshes]),
        faces=np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]),
        face_part=np.concatenate([m.face_part for m in meshes]),
        nail=np.concatenate([m.nail for m in meshes]),
        palmar=np.concatenate([m.palmar for m in meshes]))


# --------------------------------------------------------------------------- capsules
@dataclass(frozen=True)
class _TubeTemplate:
    """Topology of a capsule, shared by every bone: rings of vertices from pole to pole."""

    end: np.ndarray     # (Nv,) 0 for the root cap, 1 for the tip cap
    phi: np.ndarray     # (Nv,) latitude on the cap sphere, -pi/2 (root pole) .. pi/2 (tip pole)
    theta: np.ndarray   # (Nv,) angle around the axis, 0 at local +x, pi/2 at local +z
    faces: np.ndarray   # (Fv, 3)


@lru_cache(maxsize=8)
def tube_template(n_around: int = 12, n_cap: int = 3) -> _TubeTemplate:
    """Capsule topology with ``n_around`` vertices per ring and ``n_cap`` rings per cap."""
    ring_end = [0] * n_cap + [1] * n_cap
    ring_phi = [-np.pi / 2 + np.pi / 2 * k / n_cap for k in range(1, n_cap + 1)]
    ring_phi += [np.pi / 2 * k / n_cap for k in range(n_cap)]
    n_rings = len(ring_phi)
    theta = np.tile(2 * np.pi * np.arange(n_around) / n_around, n_rings)
    end = np.concatenate([[0], np.repeat(ring_end, n_around), [1]])
    phi = np.concatenate([[-np.pi / 2], np.repeat(ring_phi, n_around), [np.pi / 2]])
    theta = np.concatenate([[0.0], theta, [0.0]])

    j = np.arange(n_around)
    jn = (j + 1) % n_around
    faces = []
    for ring in range(n_rings - 1):
        a, b = 1 + ring * n_around + j, 1 + ring * n_around + jn
        d, c = a + n_around, b + n_around
        faces += [np.stack([a, d, c], 1), np.stack([a, c, b], 1)]
    top = 1 + n_rings * n_around
    last = 1 + (n_rings - 1) * n_around
    faces.append(np.stack([np.zeros(n_around, int), 1 + j, 1 + jn], 1))
    faces.append(np.stack([np.full(n_around, top), last + jn, last + j], 1))
    return _TubeTemplate(end=end, phi=phi, theta=theta,
                         faces=np.concatenate(faces).astype(np.int64))


def tubes(starts: np.ndarray, rotations: np.ndarray, lengths: np.ndarray, r0: np.ndarray,
          r1: np.ndarray, flatten: np.ndarray, template: _TubeTemplate
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, normals (S, Nv, 3) and local coordinates (S, Nv, 3) of S tapered capsules.

    Capsule ``s`` runs from ``starts[s]`` along ``rotations[s][:, 1]`` for ``lengths[s]``; its
    cross-section is an ellipse with half-axes ``r`` (local x) and ``r * flatten`` (local z);
    ``r`` is ``r0`` on the root cap, ``r1`` on the tip cap and linear in between.
    """
    t = template
    radius = np.where(t.end[None] == 0, r0[:, None], r1[:, None])           # (S, Nv)
    ring = np.cos(t.phi)[None] * radius
    local = np.stack([
        ring * np.cos(t.theta)[None],
        t.end[None] * lengths[:, None] + radius * np.sin(t.phi)[None],
        ring * np.sin(t.theta)[None] * flatten[:, None]], axis=-1)
    normal = np.stack([
        np.broadcast_to(np.cos(t.phi) * np.cos(t.theta), radius.shape),
        np.broadcast_to(np.sin(t.phi), radius.shape),
        np.cos(t.phi)[None] * np.sin(t.theta)[None] / flatten[:, None]], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    verts = np.einsum('sij,snj->sni', rotations, local) + starts[:, None]
    normals = np.einsum('sij,snj->sni', rotations, normal)
    return verts, normals, local


def _stack_tubes(verts: np.ndarray, normals: np.ndarray, template: _TubeTemplate,
                 parts: np.ndarray, nail: np.ndarray, palmar_axes: np.ndarray) -> HandMesh:
    """S capsules as one :class:`HandMesh`; ``palmar_axes`` (S, 3): each one's palmar side."""
    n_tubes, n_verts = verts.shape[:2]
    offsets = (np.arange(n_tubes) * n_verts)[:, None, None]
    faces = (template.faces[None] + offsets).reshape(-1, 3)
    palmar = np.einsum('sni,si->sn', normals, palmar_axes)
    return HandMesh(vertices=verts.reshape(-1, 3), normals=normals.reshape(-1, 3), faces=faces,
                    face_part=np.repeat(parts.astype(np.uint8), len(template.faces)),
                    nail=nail.reshape(-1).astype(np.float32),
                    palmar=palmar.reshape(-1).astype(np.float32))


def _nail_weight(local: np.ndarray, lengths: np.ndarray, radii: np.ndarray,
                 flatten: np.ndarray) -> np.ndarray:
    """Fingernail coverage of the distal capsules' vertices: dorsal side, distal two thirds."""
    across = local[..., 0] / radii[:, None]
    dorsal = -local[..., 2] / (radii * flatten)[:, None]
    along = local[..., 1] / lengths[:, None]
    inside = (dorsal > 0.55) & (np.abs(across) < 0.8) & (along > 0.3)
    return inside.astype(np.float32) * np.clip((dorsal - 0.55) / 0.2, 0.0, 1.0)


def finger_mesh(shape: HandShape, joints: np.ndarray, bones: np.ndarray,
                n_around: int = 12, n_cap: int = 3) -> HandMesh:
    """The 15 finger bones as capsules around the labelled joints."""
    template = tube_template(n_around, n_cap)
    rotations = bones.reshape(-1, 3, 3)
    starts = np.stack([joints[1 + 4 * f + s] for f in range(NUM_FINGERS) for s in range(3)])
    lengths = shape.lengths.reshape(-1).copy()
    lengths[2::3] -= shape.radii[:, 3]      # the tip cap ends exactly at the fingertip joint
    r0 = shape.radii[:, :3].reshape(-1)
    r1 = shape.radii[:, 1:].reshape(-1)
    flatten = np.repeat(shape.flatten, 3)
    verts, normals, local = tubes(starts, rotations, lengths, r0, r1, flatten, template)
    nail = np.zeros(verts.shape[:2], dtype=np.float32)
    nail[2::3] = _nail_weight(local[2::3], lengths[2::3], r0[2::3], flatten[2::3])
    parts = PART_FINGER0 + np.arange(3 * NUM_FINGERS)
    palmar_axes = rotations[:, :, 2].copy()
    # The thumb metacarpal lies in the thenar eminence, covered by palm skin.
    palmar_axes[0] = palmar_axes[0] + np.array([0.0, 0.0, 1.5])
    palmar_axes[0] /= np.linalg.norm(palmar_axes[0])
    return _stack_tubes(verts, normals, template, parts, nail, palmar_axes)


def forearm_mesh(shape: HandShape, wrist: tuple[float, float] = (0.0, 0.0)) -> HandMesh:
    """A tapered forearm leaving the wrist joint, bent by ``wrist = (flexion, deviation)``."""
    template = tube_template(16, 3)
    flex, deviation = wrist
    rotation = rot_x(flex) @ rot_z(deviation) @ rot_z(np.pi)   # local +y points down the arm
    r0, r1 = shape.forearm_radii
    verts, normals, _ = tubes(
        np.zeros((1, 3)), rotation[None], np.array([shape.forearm_length]), np.array([r0]),
        np.array([r1]), np.array([0.72]), template)
    return _stack_tubes(verts, normals, template, np.array([PART_FOREARM]),
                        np.zeros(verts.shape[:2], dtype=np.float32), rotation[None, :, 2])


# --------------------------------------------------------------------------- hulls
@lru_cache(maxsize=2)
def _unit_sphere_points(subdivisions: int = _ICO_SUBDIVISIONS) -> np.ndarray:
    return np.asarray(trimesh.creation.icosphere(subdivisions=subdivisions).vertices)


def sphere_hull(centers: np.ndarray, radii: np.ndarray, part: int) -> HandMesh:
    """Convex hull of spheres: a rounded blob with exact sphere normals at its vertices.

    Why hull spheres: the hull of a few spheres is a smooth, watertight palm-like solid, and
    each hull vertex lies on one sphere, whose normal is the surface normal there.
    """
    unit = _unit_sphere_points()
    points = (np.asarray(centers)[:, None] + np.asarray(radii)[:, None, None] * unit[None])
    points = points.reshape(-1, 3)
    hull = ConvexHull(points)
    faces = hull.simplices.astype(np.int64)
    tri = points[faces]
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = np.einsum('ij,ij->i', face_normal, hull.equations[:, :3]) < 0
    faces[inward] = faces[inward][:, ::-1]
    used, faces = np.unique(faces, return_inverse=True)
    faces = faces.reshape(-1, 3)
    normals = np.tile(unit, (len(centers), 1))[used]
    return HandMesh(vertices=points[used], normals=normals, faces=faces,
                    face_part=np.full(len(faces), part, dtype=np.uint8),
                    nail=np.zeros(len(used), dtype=np.float32),
                    palmar=normals[:, 2].astype(np.float32))


def palm_mesh(shape: HandShape) -> HandMesh:
    """The palm: hull of the knuckle, mid-palm and wrist spheres."""
    return sphere_hull(shape.palm_anchors, shape.palm_radii, PART_PALM)


def thenar_mesh(shape: HandShape, joints: np.ndarray) -> HandMesh:
    """Thenar eminence and thumb web: hull along the posed thumb metacarpal to the index base."""
    cmc, mcp = joints[1], joints[2]
    index_base = 0.72 * shape.roots[1] + np.array([-2.0, 0.0, 2.0])
    radial_palm = np.array([0.6 * shape.roots[1][0], 0.4 * shape.roots[1][1], 3.0])
    r_cmc, r_mcp = shape.radii[0, 0], shape.radii[0, 1]
    along = np.array([0.0, 0.5, 0.85])
    # Slightly thicker than the metacarpal capsule, so the capsule stays inside the eminence.
    bulk = r_cmc + along * (r_mcp - r_cmc) + np.array([1.5, 1.5, 0.8])
    centers = np.vstack([cmc + along[:, None] * (mcp - cmc), index_base, radial_palm])
    radii = np.concatenate([bulk, [shape.radii[1, 0] * 0.95, 13.0 * r_cmc / 12.5]])
    return sphere_hull(centers, radii, PART_THENAR)


# --------------------------------------------------------------------------- the posed hand
def build_hand(shape: HandShape, angles: np.ndarray, wrist: tuple[float, float] = (0.0, 0.0),
               n_around: int = 12) -> tuple[np.ndarray, HandMesh]:
    """The posed hand in the hand frame: joints (21, 3) and its mesh.

    Joint order is ``hand21`` (wrist, then thumb..little, root -> tip). The mesh is the union
    of forearm, palm, thenar and finger parts (they overlap; a z-buffer resolves them).
    """
    finger_joints, bones = forward_kinematics(shape, angles)
    mesh = concatenate([forearm_mesh(shape, wrist), palm_mesh(shape),
                        thenar_mesh(shape, finger_joints),
                        finger_mesh(shape, finger_joints, bones, n_around=n_around)])
    return finger_joints, mesh


def joint_radii(shape: HandShape) -> np.ndarray:
    """(21,) skin radius around each joint (the wrist: the forearm's larger half-axis)."""
    radii = np.concatenate([[shape.forearm_radii[0]], shape.radii.reshape(-1)])
    radii[4::4] = 0.0  # fingertips lie on the surface
    return radii
