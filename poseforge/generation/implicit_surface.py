"""The hand template's surface: the procedural hand as a signed distance field, meshed by
surface nets into one watertight triangle mesh (steps 1-2 of :mod:`poseforge.generation.template`,
which rigs the result).

1. **Implicit hand** (:func:`implicit_parts`). The procedural anatomy of
   :mod:`poseforge.generation.hand_model` (rest pose: fingers straight, slightly fanned) as a
   signed distance field: one tapered elliptical capsule per phalanx (the distal one ends exactly
   at the fingertip keypoint), a soft convex hull of spheres for the palm and one for the thenar
   eminence, and a tapered forearm stub (:data:`FOREARM_LENGTH_MM`). The parts are joined with a
   smooth minimum (blend radius :data:`BLEND_MM`), which rounds the finger webs and the wrist
   like skin does.
2. **Surface** (:func:`watertight_surface`). Naive surface nets on a rectilinear grid
   (:data:`VOXEL_MM` over the hand, coarser along the forearm): one vertex per cell that the
   surface crosses, at the mean of the edge crossings, then projected onto the zero level by
   Newton steps; one quad per sign-changing grid edge, split along its shorter diagonal. A closed
   field gives a closed, consistently wound mesh (checked with trimesh; if an ambiguous cell ever
   broke an edge, the grid is shifted by a fraction of a voxel and rebuilt). Vertex normals are
   the field's gradient (:func:`field_gradient`). The field is evaluated exactly only in a
   narrow band around the surface (:func:`narrow_band_values`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

from poseforge.generation.hand_model import (NUM_FINGERS, PART_FINGER0, PART_FOREARM, PART_PALM,
                                             PART_THENAR, HandShape, rot_z)

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
def watertight_surface(parts: ImplicitParts, joints: np.ndarray, attempts: int = 4
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and faces (F, 3) of a closed, consistently wound mesh of ``parts``.

    Surface nets on the grid around ``joints``; should an ambiguous cell break an edge, the grid
    is shifted by a fraction of a voxel and the surface rebuilt (up to ``attempts`` grids).
    """
    for attempt in range(attempts):
        shift = 0.37 * attempt * VOXEL_MM
        vertices, faces = surface_nets(parts, _grid_axes(joints, shift))
        mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
        if mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0:
            return vertices, faces
    # not reached in practice: a smooth closed field gives a closed mesh on some grid
    raise RuntimeError('hand template: surface nets did not give a watertight mesh')


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


__all__ = ['BLEND_MM', 'FOREARM_LENGTH_MM', 'ImplicitParts', 'VOXEL_MM', 'field_gradient',
           'implicit_parts', 'narrow_band_values', 'split_quads', 'surface_nets',
           'watertight_surface']
