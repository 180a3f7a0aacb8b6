"""Objects in the scene: held in the hand, or passing in front of it.

Why: real hands hold cups, phones, pens and balls, and things pass in front of them; a model
that never saw a joint hidden by an object predicts it on the object's edge. An object is built
per frame from the posed hand (:func:`object_geometry`), in the world frame, so every view of a
frame sees the same object in the same place, and it is rasterised into the same depth buffer as
the hand: a joint it hides is flagged occluded exactly as a self-occluded one
(:func:`object_occlusion` adds the case of an object touching the skin in front of a joint,
which the depth tolerance of self-occlusion would let through).

Placement (:class:`poseforge.generation.appearance.ObjectSpec`):

* ``held``: against the palm, on its palmar side: a cylinder across the palm (a bottle, a
  handle), a ball in it, or a box along it (a phone);
* ``front``: beside the hand, on a random side, about half a hand length out, so that it hides
  the hand from the cameras on that side only.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from poseforge.generation.appearance import ObjectSpec
from poseforge.generation.hand_model import HandMesh


@dataclass
class ObjectGeometry:
    """Triangle meshes of a frame's objects, world frame (mm).

    Attributes:
        vertices, normals: (M, 3).
        faces: (G, 3) int64, counter-clockwise seen from outside.
        albedo: (M, 3) float32 base colour.
        pattern: (M, 2) float32 surface coordinates (mm along the axis, mm around it).
        accent: (M, 3) float32 second colour of the pattern.
        style: (M,) int8 pattern id (0 plain, 1 stripes, 2 label).
        specular, shininess: per-vertex material (M,).
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray
    pattern: np.ndarray
    accent: np.ndarray
    style: np.ndarray
    specular: np.ndarray
    shininess: np.ndarray


@lru_cache(maxsize=8)
def _unit_mesh(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, normals, faces of a unit primitive (extent 1 along each axis, axis = z)."""
    import trimesh
    if kind in ('cylinder', 'bar'):
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=20)
    elif kind == 'sphere':
        mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    else:
        mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    # Flat-shaded faces for boxes and cylinder caps: unshared vertices, face normals.
    if kind in ('box', 'cylinder', 'bar'):
        verts = mesh.vertices[mesh.faces].reshape(-1, 3)
        normals = np.repeat(mesh.face_normals, 3, axis=0)
        if kind != 'box':   # the cylinder's side is smooth: radial normals there
            radial = verts * np.array([1.0, 1.0, 0.0])
            side = np.abs(normals[:, 2]) < 0.5
            normals[side] = radial[side] / np.linalg.norm(radial[side], axis=1, keepdims=True)
        faces = np.arange(len(verts)).reshape(-1, 3)
        return verts, normals, faces
    normals = mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True)
    return np.asarray(mesh.vertices), normals, np.asarray(mesh.faces)


@lru_cache(maxsize=1)
def _hand_landmarks() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Template vertex sets: palm (palmar side), wrist ring, middle finger base; palm length."""
    from poseforge.generation.hand_model import PART_PALM
    from poseforge.generation.template import hand_template
    template = hand_template()
    palm_vertices = np.unique(template.faces[template.face_part == PART_PALM])
    palmar = palm_vertices[template.palmar[palm_vertices] > 0.6]
    wrist = np.nonzero((template.vertex_bone == 0) & (template.vertices[:, 1] > -12.0))[0]
    middle = np.nonzero(template.vertex_bone == 10)[0]
    return palm_vertices, palmar, wrist, middle


def hand_frame(mesh: HandMesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Palm centre, distal direction, palmar normal (world) and hand length (mm) of a posed
    template mesh, from the template's vertex sets (left hands included: they are mirrored)."""
    palm, palmar, wrist, middle = _hand_landmarks()
    centre = mesh.vertices[palm].mean(0)
    wrist_c = mesh.vertices[wrist].mean(0)
    distal = mesh.vertices[middle].mean(0) - wrist_c
    palm_length = float(np.linalg.norm(distal))
    distal /= max(palm_length, 1e-6)
    normal = mesh.normals[palmar].mean(0)
    normal -= distal * (normal @ distal)
    normal /= max(float(np.linalg.norm(normal)), 1e-6)
    return centre, distal, normal, 1.75 * palm_length


def _rotation(axis_z: np.ndarray, axis_x_hint: np.ndarray) -> np.ndarray:
    """Columns (x, y, z) with z along ``axis_z`` and x as close to ``axis_x_hint`` as possible."""
    z = axis_z / np.linalg.norm(axis_z)
    x = axis_x_hint - z * (axis_x_hint @ z)
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _placement(spec: ObjectSpec, centre: np.ndarray, distal: np.ndarray, normal: np.ndarray,
               hand_length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World rotation (columns = the unit mesh's axes), scale (3,) and centre of an object."""
    size = spec.size * hand_length
    across = np.cross(distal, normal)
    palm_half = 0.075 * hand_length
    if spec.placement == 'held':
        if spec.kind == 'box':     # lying along the palm, its thin side (y) against it
            rot = np.stack([np.cross(normal, distal), normal, distal], axis=1)
            return rot, size, (centre + normal * (palm_half + 0.5 * size[1])
                               + distal * 0.1 * hand_length)
        if spec.kind == 'sphere':
            return np.eye(3), size, centre + normal * (palm_half + 0.5 * size[0])
        # cylinder across the palm, turned a little about the palm normal
        tilt = (spec.turn / np.pi - 0.5) * 0.8
        axis = np.cos(tilt) * across + np.sin(tilt) * distal
        rot = _rotation(axis, normal)
        return rot, size, centre + normal * (palm_half + 0.5 * size[0])
    direction = spec.offset / np.linalg.norm(spec.offset)
    reach = 0.3 * hand_length + 0.5 * float(max(size[0], size[1]))
    axis = np.cross(direction, distal) + 0.3 * distal * np.cos(spec.turn) + 0.1 * normal
    rot = _rotation(axis, direction)
    return rot, size, centre + direction * reach


def object_geometry(specs: tuple[ObjectSpec, ...], mesh: HandMesh) -> ObjectGeometry | None:
    """The frame's objects around the posed hand ``mesh`` (``None`` when there are none)."""
    if not specs:
        return None
    centre, distal, normal, hand_length = hand_frame(mesh)
    parts = []
    for spec in specs:
        verts, normals, faces = _unit_mesh(spec.kind)
        rot, scale, origin = _placement(spec, centre, distal, normal, hand_length)
        world = (verts * scale) @ rot.T + origin
        normal_world = (normals / scale) @ rot.T
        normal_world /= np.linalg.norm(normal_world, axis=1, keepdims=True)
        along = verts[:, 2] * scale[2]
        around = np.arctan2(verts[:, 1], verts[:, 0]) * 0.5 * float(scale[0])
        style = {'plain': 0, 'stripes': 1, 'label': 2}[spec.pattern]
        count = len(verts)
        parts.append((world, normal_world, faces, np.tile(spec.color, (count, 1)),
                      np.stack([along, around], 1), np.tile(spec.accent, (count, 1)),
                      np.full(count, style, np.int8), np.full(count, spec.specular),
                      np.full(count, spec.shininess)))
    offset, out = 0, [[] for _ in range(9)]
    for part in parts:
        for k, value in enumerate(part):
            out[k].append(value + offset if k == 2 else value)
        offset += len(part[0])
    cat = [np.concatenate(v) for v in out]
    return ObjectGeometry(vertices=cat[0], normals=cat[1], faces=cat[2].astype(np.int64),
                          albedo=cat[3].astype(np.float32), pattern=cat[4].astype(np.float32),
                          accent=cat[5].astype(np.float32), style=cat[6],
                          specular=cat[7].astype(np.float32),
                          shininess=cat[8].astype(np.float32))


def object_occlusion(keypoints: np.ndarray, joint_depth: np.ndarray, objects: np.ndarray,
                     depth: np.ndarray) -> np.ndarray:
    """Joints (21,) hidden by an object: the surface seen at the joint's pixel is an object
    nearer to the camera than the joint (``objects``: the view's object mask).

    Self-occlusion allows the skin's thickness plus a tolerance in front of a joint before it
    counts (:func:`poseforge.generation.synth_hands.joint_visibility`); an object is never
    inside the finger, so any object surface in front of the joint hides it.
    """
    height, width = depth.shape
    cols, rows = np.rint(keypoints[:, 0]).astype(int), np.rint(keypoints[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    r, c = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    seen = depth[r, c]
    return inside & (objects[r, c] > 0) & (seen > 0) & (seen < joint_depth)


__all__ = ['ObjectGeometry', 'hand_frame', 'object_geometry', 'object_occlusion']
