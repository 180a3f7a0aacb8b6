"""Rendering a view with an :class:`~poseforge.generation.appearance.Look`: skin detail,
sleeves, objects, several coloured lights with soft shadows, and a camera.

The pipeline of :func:`render_realistic`, all whole-array numpy / OpenCV operations:

1. **Geometry.** The hand and the frame's objects (:mod:`occluders`) are rasterised together
   (one z-buffer), so objects hide the hand and the hand hides objects exactly.
2. **Materials per pixel.** Skin albedo (per vertex: tone, palm, nails, knuckles, mottling) is
   modulated per pixel by flexion creases, knuckle wrinkles and palm lines, drawn from the
   template's detail coordinates (:func:`appearance.detail_attributes`) and pre-filtered to the
   pixel's footprint (a crease narrower than a pixel fades instead of aliasing into dots). The
   forearm beyond the sleeve's start takes the sleeve's cloth (colour, pattern, cuff); objects
   their colour and pattern.
3. **Light.** Every directional light adds a wrapped Lambert term whose wrap is wider in red
   than in blue (light scattered under the skin reddens and softens the terminator, a cheap
   stand-in for subsurface scattering), and a Blinn-Phong highlight (nails shinier than skin).
   The key light casts shadows: a shadow map per frame (shared by its views), read with
   percentage-closer filtering so shadow edges are soft. A hemisphere ambient (sky above,
   ground below, in world terms) and a weak light at the camera fill the rest. The hand also
   drops a soft shadow on the background.
4. **Camera.** White balance and exposure errors, defocus and motion blur (optics, before the
   lens distortion of distorting rigs), then sensor resolution, noise whose variance grows with
   the signal, and JPEG compression.

The labels are untouched by all of this; the mask is the visible hand (:class:`RenderResult`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poseforge.generation.appearance import FAR, CameraEffects, Look, detail_attributes
from poseforge.generation.cameras import Camera
from poseforge.generation.hand_model import HAND_PART_MIN, PART_FOREARM, HandMesh
from poseforge.generation.occluders import ObjectGeometry, object_geometry
from poseforge.generation.renderer import (Appearance, RenderResult, composite, view_rays,
                                           rasterize)

#: Shadow map side (px) and the distance of its near-orthographic camera (mm).
SHADOW_MAP_SIZE = 128
_SHADOW_DISTANCE = 1.0e4
#: Crease half-widths (mm) on the rest hand: flexion creases, palm lines.
_CREASE_MM = 0.45
_PALM_LINE_MM = 0.6


# --------------------------------------------------------------------------- per-frame state
@dataclass
class ShadowMap:
    """Depth (mm from a far plane) of the key light's nearest surfaces, near-orthographic."""

    depth: np.ndarray          # (S, S) float32, 0 where nothing
    rotation: np.ndarray       # (3, 3) world -> light camera
    translation: np.ndarray    # (3,)
    K: np.ndarray              # (3, 3)

    def lit(self, points: np.ndarray, softness: float, bias: float = 2.0) -> np.ndarray:
        """Fraction (M,) of each world point's neighbourhood that the light reaches (PCF over a
        3 x 3 grid of ``softness`` shadow-map pixels)."""
        cam = points @ self.rotation.T + self.translation
        uv = cam[:, :2] / cam[:, 2:3] * self.K[0, 0] + self.K[:2, 2]
        size = self.depth.shape[0]
        lit = np.zeros(len(points), np.float32)
        for dy in (-1.0, 0.0, 1.0):
            for dx in (-1.0, 0.0, 1.0):
                x = np.rint(uv[:, 0] + dx * softness).astype(np.int64)
                y = np.rint(uv[:, 1] + dy * softness).astype(np.int64)
                inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
                stored = self.depth[np.clip(y, 0, size - 1), np.clip(x, 0, size - 1)]
                blocked = inside & (stored > 0) & (stored < cam[:, 2] - bias)
                lit += ~blocked
        return lit / 9.0


def shadow_map(vertices: np.ndarray, faces: np.ndarray, direction: np.ndarray,
               focus: np.ndarray, size: int = SHADOW_MAP_SIZE) -> ShadowMap:
    """Rasterise ``faces`` as seen from the light (``direction``: surface -> light, world),
    framing the points ``focus`` (the hand; a long forearm may leave the map, where it casts
    no shadow)."""
    light = direction / np.linalg.norm(direction)
    helper = np.array([0.0, 1.0, 0.0]) if abs(light[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(light, helper)
    u /= np.linalg.norm(u)
    v = np.cross(u, light)               # rows (u, v, -light): a proper rotation
    rotation = np.stack([u, v, -light])
    centre = focus.mean(0)
    extent = float(np.abs((focus - centre) @ np.stack([u, v]).T).max()) * 2.2 + 10.0
    translation = -rotation @ centre + np.array([0.0, 0.0, _SHADOW_DISTANCE])
    focal = _SHADOW_DISTANCE * size / extent
    K = np.array([[focal, 0.0, (size - 1) / 2.0], [0.0, focal, (size - 1) / 2.0],
                  [0.0, 0.0, 1.0]])
    frags = rasterize(vertices @ rotation.T + translation, faces, K, size, size)
    return ShadowMap(frags.depth, rotation, translation, K)


@dataclass
class FrameScene:
    """What every view of a frame shares: the objects and the key light's shadow map."""

    objects: ObjectGeometry | None
    vertices: np.ndarray       # hand + objects, world (float64, for rasterising)
    normals: np.ndarray        # float32
    faces: np.ndarray
    num_hand_faces: int
    shadow: ShadowMap | None


_FRAME_CACHE: dict = {}


_HAND_VERTEX_CACHE: dict = {}


def _hand_vertex_ids(mesh: HandMesh) -> np.ndarray:
    """Sorted ids of the vertices of hand faces (not forearm). They depend on the template
    only (every posed or mirrored mesh shares its ``face_part`` and vertex set), so they are
    found once per template instead of by a sort of every frame's faces."""
    if _HAND_VERTEX_CACHE.get('face_part') is not mesh.face_part:
        ids = np.unique(mesh.faces[mesh.face_part >= HAND_PART_MIN])
        _HAND_VERTEX_CACHE.update(face_part=mesh.face_part, ids=ids)
    return _HAND_VERTEX_CACHE['ids']


def frame_scene(mesh: HandMesh, appearance: Appearance) -> FrameScene:
    """The frame's shared state, computed once per (mesh, appearance) pair (the views of a frame
    pass the same objects; a strong reference is kept so identity cannot be recycled)."""
    if _FRAME_CACHE.get('mesh') is mesh and _FRAME_CACHE.get('appearance') is appearance:
        return _FRAME_CACHE['scene']
    look = appearance.look
    objects = object_geometry(look.objects, mesh)
    if objects is None:
        vertices, normals, faces = mesh.vertices, mesh.normals, mesh.faces
    else:
        vertices = np.concatenate([mesh.vertices, objects.vertices])
        normals = np.concatenate([mesh.normals, objects.normals])
        faces = np.concatenate([mesh.faces, objects.faces + len(mesh.vertices)])
    shadow = None
    if look.shadow > 0:
        hand = mesh.vertices[_hand_vertex_ids(mesh)]
        focus = hand if objects is None else np.concatenate([hand, objects.vertices])
        shadow = shadow_map(vertices, faces, look.lights[0].direction, focus)
    scene = FrameScene(objects, vertices, normals.astype(np.float32), faces, len(mesh.faces),
                       shadow)
    _FRAME_CACHE.update(mesh=mesh, appearance=appearance, scene=scene)
    return scene


# --------------------------------------------------------------------------- materials
def _line(distance: np.ndarray, half_width: float, footprint: np.ndarray) -> np.ndarray:
    """A dark line profile at ``distance`` (mm), pre-filtered by the pixel ``footprint`` (mm):
    wider and fainter when the pixel is larger than the line, so it never aliases."""
    width = np.sqrt(half_width ** 2 + (0.5 * footprint) ** 2)
    return (half_width / width) * np.exp(-(distance / width) ** 2)


def skin_detail(attrs: np.ndarray, palmar: np.ndarray, footprint: np.ndarray,
                look: Look) -> np.ndarray:
    """Darkening (M,) in [0, 1] of skin pixels by creases, wrinkles and palm lines.

    ``attrs``: the pixels' detail coordinates 1-4 of :func:`appearance.detail_attributes`."""
    detail = look.detail
    d = attrs[:, 0]
    palmar_w = np.clip((palmar + 0.1) / 0.5, 0.0, 1.0)
    dorsal_w = np.clip((-palmar - 0.1) / 0.5, 0.0, 1.0)
    flexion = _line(np.abs(d) - 0.8, _CREASE_MM, footprint)
    wrinkles = (np.exp(-(d / 4.0) ** 2) * (0.5 + 0.5 * np.cos(2 * np.pi * d / 1.8))
                * (_CREASE_MM / np.sqrt(_CREASE_MM ** 2 + (0.5 * footprint) ** 2)))
    amount = detail.crease * (palmar_w * flexion + 0.5 * dorsal_w * wrinkles)
    for k in range(3):
        amount = amount + detail.palm_lines[k] * _line(attrs[:, 1 + k], _PALM_LINE_MM, footprint)
    return np.clip(amount, 0.0, 0.9).astype(np.float32)


def sleeve_albedo(along: np.ndarray, look: Look) -> tuple[np.ndarray, np.ndarray]:
    """Which forearm pixels the sleeve covers (M,) and their cloth colour (M, 3)."""
    sleeve = look.sleeve
    covered = along >= sleeve.start
    colour = np.tile(sleeve.color.astype(np.float32), (len(along), 1))
    phase = (along - sleeve.start) / sleeve.period
    if sleeve.pattern == 'stripes':
        colour = np.where((np.sin(2 * np.pi * phase) > 0.6)[:, None], sleeve.accent, colour)
    elif sleeve.pattern == 'rings':
        colour = np.where((np.sin(2 * np.pi * phase) > 0.0)[:, None], sleeve.accent, colour)
    elif sleeve.pattern == 'knit':
        colour = colour * (0.88 + 0.12 * np.sin(2 * np.pi * (along - sleeve.start) / 2.2))[:, None]
    cuff = (along - sleeve.start) < 8.0
    colour = colour * (1.0 - sleeve.cuff * cuff)[:, None]
    return covered, colour.astype(np.float32)


# --------------------------------------------------------------------------- shading
def interpolate(values: np.ndarray, tri: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Barycentric interpolation of per-vertex ``values`` (N, ...) at pixels with vertices
    ``tri`` (M, 3) and weights ``bary`` (M, 3): three gathers and two fused adds, much cheaper
    than ``(values[tri] * bary[..., None]).sum(1)``."""
    if values.ndim == 1:
        return (values[tri[:, 0]] * bary[:, 0] + values[tri[:, 1]] * bary[:, 1]
                + values[tri[:, 2]] * bary[:, 2])
    return (values[tri[:, 0]] * bary[:, 0:1] + values[tri[:, 1]] * bary[:, 1:2]
            + values[tri[:, 2]] * bary[:, 2:3])


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.sqrt(np.einsum('ij,ij->i', vectors, vectors))[:, None] + 1e-12)


def shade_pixels(frags, scene: FrameScene, mesh: HandMesh, albedo: np.ndarray,
                 camera: Camera, look: Look) -> tuple[np.ndarray, np.ndarray]:
    """Colour (H, W, 3) float32 of the covered pixels, and the part buffer (H, W) uint8.

    Lighting is computed in the world frame (lights, sky and ground live there; the view rays
    are turned into it once)."""
    height, width = frags.face.shape
    covered = frags.face >= 0
    face = frags.face[covered]
    tri = scene.faces[face]
    bary = frags.bary[covered]
    is_object = face >= scene.num_hand_faces
    any_object = bool(is_object.any())
    hand = np.nonzero(~is_object)[0] if any_object else slice(None)
    hand_tri, hand_bary = tri[hand], bary[hand]

    part_px = np.zeros(len(face), np.uint8)
    part_px[hand] = mesh.face_part[face[hand]]

    normal = _normalise(interpolate(scene.normals, tri, bary))
    view = -(view_rays(camera.K, covered) @ camera.R).astype(np.float32)   # world frame
    facing = np.einsum('ij,ij->i', normal, view)
    back = facing < 0          # silhouette pixels whose interpolated normal turns away
    if back.any():
        normal[back] = _normalise(normal[back] - 1.05 * facing[back, None] * view[back])

    colour = np.empty((len(face), 3), np.float32)
    colour[hand] = interpolate(albedo, hand_tri, hand_bary)
    specular = np.full(len(face), look.specular, np.float32)
    shininess = np.full(len(face), look.shininess, np.float32)
    wrap = np.tile(look.wrap.astype(np.float32), (len(face), 1))

    # Skin detail and sleeves need the template's per-vertex coordinates.
    attrs_all = detail_attributes() if len(mesh.vertices) == len(detail_attributes()) else None
    if attrs_all is not None and (look.detail is not None or look.sleeve is not None):
        hand_idx = np.arange(len(face))[hand]
        if look.detail is not None:
            footprint = frags.depth[covered][hand] / np.float32(camera.K[0, 0])   # mm / px
            attrs = interpolate(attrs_all[:, 1:5], hand_tri, hand_bary)
            palmar = interpolate(mesh.palmar, hand_tri, hand_bary)
            darken = skin_detail(attrs, palmar, footprint, look)
            colour[hand] *= 1.0 - darken[:, None] * np.array([0.45, 0.55, 0.55], np.float32)
            nail = interpolate(mesh.nail, hand_tri, hand_bary)
            specular[hand_idx] *= 1.0 + 3.0 * nail
            shininess[hand_idx] += 40.0 * nail
        if look.sleeve is not None:
            arm = hand_idx[part_px[hand] == PART_FOREARM]
            along = interpolate(attrs_all[:, 0], tri[arm], bary[arm])
            sleeved, cloth = sleeve_albedo(along, look)
            idx = arm[sleeved]
            colour[idx] = cloth[sleeved]
            specular[idx] = 0.02
            shininess[idx] = 4.0
            wrap[idx] = 0.25
    if any_object:
        obj_tri = tri[is_object] - len(mesh.vertices)
        obj_bary = bary[is_object]
        colour[is_object] = object_albedo(scene.objects, obj_tri, obj_bary)
        specular[is_object] = interpolate(scene.objects.specular, obj_tri, obj_bary)
        shininess[is_object] = interpolate(scene.objects.shininess, obj_tri, obj_bary)
        wrap[is_object] = 0.05

    lit = None
    if scene.shadow is not None:
        position = interpolate(scene.vertices.astype(np.float32), tri, bary)
        lit = scene.shadow.lit(position + 1.5 * normal, look.shadow_softness)
        lit = 1.0 - look.shadow * (1.0 - lit)

    light_sum = np.zeros((len(face), 3), np.float32)
    highlight = np.zeros(len(face), np.float32)
    highlight_rgb = np.zeros((len(face), 3), np.float32)
    for k, light in enumerate(look.lights):
        direction = light.direction.astype(np.float32)
        n_dot_l = normal @ direction
        term = np.maximum((n_dot_l[:, None] + wrap) / (1.0 + wrap), 0.0)
        half = _normalise(direction[None] + view)
        spec = np.maximum(np.einsum('ij,ij->i', normal, half), 0.0) ** shininess
        spec *= specular * (n_dot_l > 0)
        if k == 0 and lit is not None:
            term *= lit[:, None]
            spec *= lit
        light_sum += term * light.color.astype(np.float32)
        if k == 0:
            highlight = spec
        else:
            highlight_rgb += spec[:, None] * light.color.astype(np.float32)
    hemi = (0.5 + 0.5 * normal[:, 1])[:, None]
    sky, ground = look.sky.astype(np.float32), look.ground.astype(np.float32)
    light_sum += ground + hemi * (sky - ground)
    light_sum += (look.headlight * np.maximum(np.einsum('ij,ij->i', normal, view), 0.0))[:, None]
    rgb = colour * light_sum + highlight[:, None] * look.lights[0].color.astype(np.float32)
    rgb += highlight_rgb
    out = np.zeros((height, width, 3), np.float32)
    out[covered] = rgb
    part = np.zeros((height, width), np.uint8)
    part[covered] = part_px
    return out, part


def object_albedo(objects: ObjectGeometry, tri: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Colour (M, 3) of object pixels: base colour, stripes or a label band."""
    colour = interpolate(objects.albedo, tri, bary)
    accent = interpolate(objects.accent, tri, bary)
    pattern = interpolate(objects.pattern, tri, bary)
    style = objects.style[tri[:, 0]]
    stripes = (style == 1) & (np.sin(2 * np.pi * pattern[:, 0] / 14.0) > 0.3)
    label = (style == 2) & (np.abs(pattern[:, 0]) < 18.0)
    return np.where((stripes | label)[:, None], accent, colour)


def drop_shadow(background: np.ndarray, silhouette: np.ndarray, light_cam: np.ndarray,
                strength: float) -> np.ndarray:
    """Darken ``background`` where the silhouette's soft shadow falls (a wall behind the hand):
    the silhouette shifted away from the key light and blurred."""
    height, width = silhouette.shape
    direction = -light_cam[:2]
    norm = float(np.linalg.norm(direction))
    shift = direction / norm * 0.06 * width if norm > 1e-3 else np.zeros(2)
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    moved = cv2.warpAffine(silhouette.astype(np.float32), matrix, (width, height))
    soft = cv2.GaussianBlur(moved, (0, 0), 0.02 * width + 2.0)
    return background * (1.0 - np.float32(strength) * soft)[..., None]


# --------------------------------------------------------------------------- camera
@dataclass
class ViewEffects:
    """One view's camera effects, drawn by :func:`sample_view_effects`."""

    gains: np.ndarray          # (3,) white balance x exposure
    defocus: float             # Gaussian sigma, px (0: none)
    motion: tuple[float, float]  # length px, angle rad (length 0: none)
    downscale: float           # resolution factor (1: none)
    noise: float               # std at mid grey
    jpeg: int                  # quality (0: none)


def sample_view_effects(rng: np.random.Generator, fx: CameraEffects, width: int
                        ) -> ViewEffects:
    """Draw one view's effects. Every value is drawn whether its effect is on or not, so
    turning one effect off leaves the others as they were."""
    wb = rng.uniform(-1.0, 1.0, 3)
    exposure = rng.uniform(0.0, 1.0)
    chance = rng.uniform(size=4)
    defocus, motion_length, motion_angle, factor, noise, quality = rng.uniform(size=6)
    scale = width / 256.0
    gains = (1.0 + fx.white_balance * wb) * (fx.exposure[0] + exposure
                                             * (fx.exposure[1] - fx.exposure[0]))
    return ViewEffects(
        gains=gains.astype(np.float32),
        defocus=float((0.5 + 1.3 * defocus) * scale) if chance[0] < fx.defocus_prob else 0.0,
        motion=((float((3.0 + 8.0 * motion_length) * scale), float(np.pi * motion_angle))
                if chance[1] < fx.motion_blur_prob else (0.0, 0.0)),
        downscale=float(1.5 + 2.0 * factor) if chance[2] < fx.downscale_prob else 1.0,
        noise=float(fx.noise[0] + noise * (fx.noise[1] - fx.noise[0])),
        jpeg=int(30 + 60 * quality) if chance[3] < fx.jpeg_prob else 0)


def optics(image: np.ndarray, fx: ViewEffects) -> np.ndarray:
    """White balance, exposure, defocus and motion blur of the image on the sensor."""
    image = image * fx.gains
    if fx.defocus > 0:
        image = cv2.GaussianBlur(image, (0, 0), fx.defocus)
    length, angle = fx.motion
    if length >= 1.5:
        size = int(np.ceil(length)) | 1
        kernel = np.zeros((size, size), np.float32)
        c = (size - 1) / 2.0
        dx, dy = np.cos(angle) * (length - 1) / 2, np.sin(angle) * (length - 1) / 2
        cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
                 (int(round(c + dx)), int(round(c + dy))), 1.0, 1, cv2.LINE_AA)
        image = cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))
    return image


def sensor(image: np.ndarray, fx: ViewEffects, rng: np.random.Generator) -> np.ndarray:
    """Resolution, signal-dependent noise, 8-bit quantisation and JPEG: the final uint8 RGB."""
    height, width = image.shape[:2]
    if fx.downscale > 1.0:
        small = (max(int(width / fx.downscale), 8), max(int(height / fx.downscale), 8))
        image = cv2.resize(cv2.resize(image, small, interpolation=cv2.INTER_AREA),
                           (width, height), interpolation=cv2.INTER_LINEAR)
    if fx.noise > 0:
        # The grey level as three adds: what ``image.mean(2)`` computes, to the bit, without
        # setting up a 3-element reduction per pixel.
        grey = (image[..., 0] + image[..., 1] + image[..., 2]) / np.float32(3.0)
        level = np.sqrt(np.clip(grey[..., None], 0.02, 1.0) * np.float32(2.0))
        image = image + rng.standard_normal(image.shape, dtype=np.float32) * (
            np.float32(fx.noise) * level)
    np.maximum(image, 0.0, out=image)
    rgb = cv2.convertScaleAbs(image, alpha=255.0)
    if fx.jpeg:
        ok, data = cv2.imencode('.jpg', rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, fx.jpeg])
        if ok:
            rgb = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return rgb


# --------------------------------------------------------------------------- one view
def render_realistic(mesh: HandMesh, albedo: np.ndarray, camera: Camera,
                     appearance: Appearance, background: np.ndarray,
                     rng: np.random.Generator) -> RenderResult:
    """Render one view with ``appearance.look`` (see the module docstring).

    The view's camera effects and sensor noise draw from a child of ``rng`` (one per view), so
    the options of one view never shift another's draws."""
    look = appearance.look
    rng = rng.spawn(1)[0]
    scene = frame_scene(mesh, appearance)
    verts_cam = camera.to_camera(scene.vertices)
    frags = rasterize(verts_cam, scene.faces, camera.K, camera.width, camera.height)
    colour, part = shade_pixels(frags, scene, mesh, albedo, camera, look)
    covered = frags.face >= 0
    objects = None
    if scene.objects is not None:
        objects = np.where(frags.face >= scene.num_hand_faces, 255, 0).astype(np.uint8)
    if look.drop_shadow > 0:
        background = drop_shadow(background, covered, camera.R @ look.lights[0].direction,
                                 look.drop_shadow)
    fx = sample_view_effects(rng, look.camera, camera.width)
    image = optics(composite(background, colour, covered), fx)
    depth = frags.depth
    if camera.dist is not None:
        from poseforge.generation.rigs import distortion_maps
        map_x, map_y = distortion_maps(camera)

        def warp(array: np.ndarray, interpolation: int) -> np.ndarray:
            return cv2.remap(array, map_x, map_y, interpolation,
                             borderMode=cv2.BORDER_REPLICATE)
        image = warp(image, cv2.INTER_LINEAR)
        depth, part = warp(depth, cv2.INTER_NEAREST), warp(part, cv2.INTER_NEAREST)
        objects = None if objects is None else warp(objects, cv2.INTER_NEAREST)
    rgb = sensor(image, fx, rng)
    mask = np.where(part >= HAND_PART_MIN, 255, 0).astype(np.uint8)
    return RenderResult(rgb=rgb, depth=depth, part=part, mask=mask, objects=objects)


__all__ = ['FrameScene', 'ShadowMap', 'ViewEffects', 'frame_scene', 'optics',
           'render_realistic', 'sample_view_effects', 'sensor', 'shade_pixels',
           'shadow_map', 'skin_detail', 'sleeve_albedo']
