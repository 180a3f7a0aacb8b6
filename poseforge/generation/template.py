"""The hand template: one watertight triangle mesh with skinning weights over the 21 joints.

Why one mesh: MVHM's spin match poses a single rigged hand mesh (Sec. "spin match" of
``docs/methods.md``); a union of loose primitives cannot be skinned smoothly, has no single
surface for depth and masks, and leaves creases where parts meet.

How the template is built (once per process, about a second, deterministic; see
:func:`hand_template`):

1. **Implicit hand.** The procedural anatomy of :mod:`poseforge.generation.hand_model` (default
   adult right hand, rest pose: fingers straight, slightly fanned) becomes a signed distance
   field: one tapered elliptical capsule per phalanx (the distal one ends exactly at the
   fingertip keypoint), a soft convex hull of spheres for the palm and one for the thenar
   eminence, and a tapered forearm stub. The parts are joined with a smooth minimum (blend
   radius :data:`BLEND_MM`), which rounds the finger webs and the wrist like skin does.
2. **Surface.** Naive surface nets on a rectilinear grid (:data:`VOXEL_MM` over the hand, coarser
   along the forearm): one vertex per cell that the surface crosses, at the mean of the edge
   crossings, then projected onto the zero level by a Newton step; one quad per sign-changing
   grid edge, split along its shorter diagonal. A closed field gives a closed, consistently
   wound mesh (checked with trimesh; if an ambiguous cell ever broke an edge, the grid is shifted
   by a fraction of a voxel and rebuilt). Vertex normals are the field's gradient.
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
from scipy.spatial import ConvexHull

from poseforge.generation.hand_model import (NUM_FINGERS, NUM_JOINTS, PART_FINGER0,
                                             PART_FOREARM, PART_PALM, PART_THENAR, HandShape,
                                             default_shape, forward_kinematics, frame_from,
                                             rot_z)

#: Grid spacing over the hand (mm): fingers (radius 5.5 to 12.5 mm) get 4-10 cells across.
VOXEL_MM = 2.5
#: Grid spacing at the far end of the forearm stub (mm); it grows linearly from the wrist.
FOREARM_VOXEL_MM = 10.0
#: Length of the forearm stub in the template (mm): long enough to leave most images.
FOREARM_LENGTH_MM = 260.0
#: Blend radius of the smooth union (mm).
BLEND_MM = 3.0
#: A part is evaluated within this distance of its bounding box (mm), else it reads FAR_MM.
CULL_MM = 4.0 * BLEND_MM
FAR_MM = 1.0e3
#: Bound on the field's slope (the elliptical capsules stretch distances by 1 / 0.72).
LIPSCHITZ = 1.5
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
    for attempt in range(4):
        shift = 0.37 * attempt * VOXEL_MM
        vertices, faces = surface_nets(parts, _grid_axes(joints, shift))
        mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
        if mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0:
            break
    else:  # pragma: no cover - a smooth closed field gives a closed mesh on some grid
        raise RuntimeError('hand template: surface nets did not give a watertight mesh')
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


# --------------------------------------------------------------------------- implicit parts
@dataclass(frozen=True)
class _Capsule:
    start: np.ndarray     # (3,)
    frame: np.ndarray     # (3, 3) columns x, y (axis), z
    length: float
    r0: float
    r1: float
    flatten: float        # z half-axis / x half-axis

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        end = self.start + self.length * self.frame[:, 1]
        r = max(self.r0, self.r1)
        return np.minimum(self.start, end) - r, np.maximum(self.start, end) + r

    def sdf(self, p: np.ndarray) -> np.ndarray:
        q = (p - self.start) @ self.frame
        t = np.clip(q[:, 1] / self.length, 0.0, 1.0)
        radius = self.r0 + t * (self.r1 - self.r0)
        gap = np.stack([q[:, 0], q[:, 1] - t * self.length, q[:, 2] / self.flatten], 1)
        return np.linalg.norm(gap, axis=1) - radius


@dataclass(frozen=True)
class _SoftHull:
    """Convex hull of spheres as planes ``n . p <= d``, its max softened over ``softness`` mm."""

    normals: np.ndarray   # (P, 3)
    offsets: np.ndarray   # (P,)
    low: np.ndarray       # bounding box of the hull
    high: np.ndarray
    softness: float = 1.5

    @classmethod
    def of_spheres(cls, centers: np.ndarray, radii: np.ndarray) -> '_SoftHull':
        unit = np.asarray(trimesh.creation.icosphere(subdivisions=1).vertices)
        points = (centers[:, None] + radii[:, None, None] * unit[None]).reshape(-1, 3)
        hull = ConvexHull(points)
        normals, offsets = hull.equations[:, :3], -hull.equations[:, 3]
        # Coplanar facets repeat a plane; one of each is enough.
        _, keep = np.unique(np.round(hull.equations, 9), axis=0, return_index=True)
        return cls(normals[keep], offsets[keep], points.min(0), points.max(0))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.low, self.high

    def sdf(self, p: np.ndarray) -> np.ndarray:
        d = p @ self.normals.T - self.offsets
        top = d.max(1, keepdims=True)
        k = self.softness
        return top[:, 0] + k * np.log(np.exp((d - top) / k).sum(1))


@dataclass(frozen=True)
class ImplicitParts:
    """The hand's parts as distance fields, each with its part id and candidate bones."""

    fields: tuple
    ids: np.ndarray                  # (P,) PART_* per field

    def values(self, p: np.ndarray) -> np.ndarray:
        """(P, M) field of every part at points ``p`` (M, 3).

        A part is evaluated only inside its bounding box grown by :data:`CULL_MM`; elsewhere
        it reads :data:`FAR_MM`. That is exact wherever the surface can be (a point outside
        the grown box is farther than ``CULL_MM`` from the part, beyond the blend), and it
        keeps the sign right everywhere (a point inside the hand is inside some box).
        """
        out = np.full((len(self.fields), len(p)), FAR_MM)
        for i, part in enumerate(self.fields):
            low, high = part.bounds()
            near = np.all((p > low - CULL_MM) & (p < high + CULL_MM), axis=1)
            if near.any():
                out[i, near] = part.sdf(p[near])
        return out

    def union(self, p: np.ndarray) -> np.ndarray:
        """Smooth union of all parts (polynomial smooth minimum, blend :data:`BLEND_MM`)."""
        values = self.values(p)
        out = values[0]
        for v in values[1:]:
            h = np.clip(BLEND_MM - np.abs(out - v), 0.0, None) / BLEND_MM
            out = np.minimum(out, v) - h * h * BLEND_MM / 4.0
        return out


def implicit_parts(shape: HandShape, joints: np.ndarray, bones: np.ndarray) -> ImplicitParts:
    """Phalanx capsules, palm and thenar hulls and the forearm of ``shape`` at rest."""
    fields, ids = [], []
    for f in range(NUM_FINGERS):
        for s in range(3):
            length = shape.lengths[f, s] - (shape.radii[f, 3] if s == 2 else 0.0)
            fields.append(_Capsule(joints[1 + 4 * f + s], bones[f, s], length,
                                   shape.radii[f, s], shape.radii[f, s + 1], shape.flatten[f]))
            ids.append(PART_FINGER0 + 3 * f + s)
    fields.append(_SoftHull.of_spheres(shape.palm_anchors, shape.palm_radii))
    ids.append(PART_PALM)
    fields.append(_SoftHull.of_spheres(*_thenar_spheres(shape, joints)))
    ids.append(PART_THENAR)
    r0, r1 = shape.forearm_radii
    fields.append(_Capsule(np.zeros(3), rot_z(np.pi), FOREARM_LENGTH_MM, r0, r1, 0.72))
    ids.append(PART_FOREARM)
    return ImplicitParts(tuple(fields), np.array(ids))


def _thenar_spheres(shape: HandShape, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spheres along the thumb metacarpal to the index base (thenar eminence and thumb web)."""
    cmc, mcp = joints[1], joints[2]
    index_base = 0.72 * shape.roots[1] + np.array([-2.0, 0.0, 2.0])
    radial_palm = np.array([0.6 * shape.roots[1][0], 0.4 * shape.roots[1][1], 3.0])
    r_cmc, r_mcp = shape.radii[0, 0], shape.radii[0, 1]
    along = np.array([0.0, 0.5, 0.85])
    bulk = r_cmc + along * (r_mcp - r_cmc) + np.array([1.5, 1.5, 0.8])
    centers = np.vstack([cmc + along[:, None] * (mcp - cmc), index_base, radial_palm])
    radii = np.concatenate([bulk, [shape.radii[1, 0] * 0.95, 13.0 * r_cmc / 12.5]])
    return centers, radii


# --------------------------------------------------------------------------- surface nets
def _grid_axes(joints: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid coordinates: uniform over the hand, growing along the forearm (``-y``)."""
    pad = 3 * VOXEL_MM + 15.0
    low = joints.min(0) - pad
    high = joints.max(0) + pad
    xs = np.arange(low[0] + shift, high[0], VOXEL_MM)
    zs = np.arange(low[2] + shift, high[2], VOXEL_MM)
    fine_y = np.arange(-10.0 + shift, high[1], VOXEL_MM)
    coarse, y, step = [], fine_y[0], VOXEL_MM
    while y > -FOREARM_LENGTH_MM - 40.0:
        step = min(step * 1.15, FOREARM_VOXEL_MM)
        y -= step
        coarse.append(y)
    ys = np.concatenate([coarse[::-1], fine_y])
    return xs, ys, zs


def surface_nets(parts: ImplicitParts, axes: tuple[np.ndarray, np.ndarray, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and faces (F, 3) of the zero level of ``parts.union`` on the grid."""
    xs, ys, zs = axes
    grid = np.stack(np.meshgrid(xs, ys, zs, indexing='ij'), -1)
    values = narrow_band_values(parts, grid)
    values[values == 0.0] = 1e-9          # no grid point exactly on the surface
    inside = values < 0

    # Cells crossed by the surface: corners not all on one side.
    corners = [inside[i:i + inside.shape[0] - 1, j:j + inside.shape[1] - 1,
                      k:k + inside.shape[2] - 1] for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    count = np.sum(corners, axis=0)
    active = (count > 0) & (count < 8)
    cell_index = np.full(active.shape, -1, dtype=np.int64)
    cells = np.argwhere(active)
    cell_index[tuple(cells.T)] = np.arange(len(cells))

    vertices = _cell_vertices(cells, grid, values)
    vertices = _project(parts, vertices, grid, cells)
    faces = split_quads(_quads(inside, cell_index), vertices)
    return vertices, faces


def narrow_band_values(parts: ImplicitParts, grid: np.ndarray) -> np.ndarray:
    """The field on ``grid`` (X, Y, Z, 3), exact within a band around the surface.

    The field is evaluated on every other grid point first; a point farther from the surface
    than the field can change between it and its coarse neighbours (slope bound
    :data:`LIPSCHITZ`) takes the coarse neighbours' value (only its sign matters there), the
    rest are evaluated. This cuts the evaluations about five-fold.
    """
    coarse = grid[::2, ::2, ::2]
    coarse_values = parts.union(coarse.reshape(-1, 3)).reshape(coarse.shape[:3])
    shape = grid.shape[:3]
    # Nearest coarse point of each fine point (index // 2 rounded both ways: take the
    # smaller-magnitude of the two neighbours per axis for a safe bound).
    idx = [np.arange(n) for n in shape]
    lo = [np.minimum(i // 2, c - 1) for i, c in zip(idx, coarse.shape[:3])]
    hi = [np.minimum((i + 1) // 2, c - 1) for i, c in zip(idx, coarse.shape[:3])]
    estimate = np.full(shape, np.inf)
    for ix in (lo[0], hi[0]):
        for iy in (lo[1], hi[1]):
            for iz in (lo[2], hi[2]):
                v = coarse_values[np.ix_(ix, iy, iz)]
                estimate = np.where(np.abs(v) < np.abs(estimate), v, estimate)
    # Distance to the chosen coarse point: at most one local grid step per axis.
    steps = [_local_step(a) for a in (grid[:, 0, 0, 0], grid[0, :, 0, 1], grid[0, 0, :, 2])]
    reach = LIPSCHITZ * np.sqrt(steps[0][:, None, None] ** 2 + steps[1][None, :, None] ** 2
                                + steps[2][None, None, :] ** 2) + 1e-6
    values = estimate
    band = np.abs(estimate) <= reach
    values[band] = parts.union(grid[band])
    return values


def _local_step(axis: np.ndarray) -> np.ndarray:
    """Largest spacing next to each coordinate of a grid axis."""
    gaps = np.diff(axis)
    return np.maximum(np.r_[gaps[0], gaps], np.r_[gaps, gaps[-1]])


def _cell_vertices(cells: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of the sign-change points on each active cell's 12 edges."""
    total = np.zeros((len(cells), 3))
    hits = np.zeros(len(cells))
    i, j, k = cells.T
    for axis in range(3):
        step = np.eye(3, dtype=np.int64)[axis]
        others = [a for a in range(3) if a != axis]
        for da in (0, 1):
            for db in (0, 1):
                offset = np.zeros(3, dtype=np.int64)
                offset[others[0]], offset[others[1]] = da, db
                a = (i + offset[0], j + offset[1], k + offset[2])
                b = (a[0] + step[0], a[1] + step[1], a[2] + step[2])
                va, vb = values[a], values[b]
                crossing = (va < 0) != (vb < 0)
                t = np.where(crossing, va / np.where(crossing, va - vb, 1.0), 0.0)
                point = grid[a] + t[:, None] * (grid[b] - grid[a])
                total += np.where(crossing[:, None], point, 0.0)
                hits += crossing
    return total / hits[:, None]


def _project(parts: ImplicitParts, vertices: np.ndarray, grid: np.ndarray,
             cells: np.ndarray) -> np.ndarray:
    """Two Newton steps onto the zero level, each vertex kept inside its own cell."""
    low = grid[tuple(cells.T)]
    high = grid[tuple((cells + 1).T)]
    for _ in range(2):
        value = parts.union(vertices)
        grad = field_gradient(parts, vertices)
        step = value / np.maximum((grad * grad).sum(1), 1e-12)
        vertices = np.clip(vertices - step[:, None] * grad, low, high)
    return vertices


def _quads(inside: np.ndarray, cell_index: np.ndarray) -> np.ndarray:
    """Two triangles per sign-changing grid edge, wound so the normal points outwards."""
    faces = []
    nx, ny, nz = inside.shape
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3       # (u, v, axis) is right-handed
        a = inside.take(range(inside.shape[axis] - 1), axis=axis)
        b = inside.take(range(1, inside.shape[axis]), axis=axis)
        change = np.argwhere(a != b)
        # Edges on the grid's outer faces have no four cells around them (never crossed).
        ok = (change[:, u] > 0) & (change[:, v] > 0) & (
            change[:, u] < inside.shape[u] - 1) & (change[:, v] < inside.shape[v] - 1)
        change = change[ok]
        out_positive = a[tuple(change.T)]           # inside at the low end: normal along +axis
        ring = []
        for du, dv in ((-1, -1), (0, -1), (0, 0), (-1, 0)):   # counter-clockwise in (u, v)
            c = change.copy()
            c[:, u] += du
            c[:, v] += dv
            ring.append(cell_index[tuple(c.T)])
        quad = np.stack(ring, 1)
        quad[~out_positive] = quad[~out_positive][:, ::-1]
        faces.append(quad)
    quads = np.concatenate(faces)
    if np.any(quads < 0):  # pragma: no cover - every crossed edge has four active cells
        raise RuntimeError('surface nets: a crossed edge lacks an active cell')
    return quads


def split_quads(quads: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Triangles from quads, each split along its shorter diagonal."""
    p = vertices[quads]
    d02 = np.linalg.norm(p[:, 0] - p[:, 2], axis=1)
    d13 = np.linalg.norm(p[:, 1] - p[:, 3], axis=1)
    short02 = d02 <= d13
    tri_a = np.where(short02[:, None], quads[:, [0, 1, 2]], quads[:, [0, 1, 3]])
    tri_b = np.where(short02[:, None], quads[:, [0, 2, 3]], quads[:, [1, 2, 3]])
    return np.concatenate([tri_a, tri_b]).astype(np.int64)


def field_gradient(parts: ImplicitParts, points: np.ndarray, eps: float = 0.05) -> np.ndarray:
    """Central-difference gradient (M, 3) of the smooth union at ``points``."""
    offsets = np.concatenate([np.eye(3), -np.eye(3)]) * eps
    values = parts.union((points[None] + offsets[:, None]).reshape(-1, 3)).reshape(6, -1)
    return ((values[:3] - values[3:]) / (2 * eps)).T


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
