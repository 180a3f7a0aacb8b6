"""A vectorised software rasteriser: shaded RGB, depth (mm) and part/mask buffers.

Why software: the generator must run anywhere (no GPU, no OpenGL) and fast enough on a laptop
core (the quick start renders a few thousand 256 px images in well under a minute per core).

How (:func:`rasterize`): back faces are culled; for every row of every triangle's pixel box the
barycentric edge functions, linear along the row, give the exact span of covered pixel centres,
all rows of all triangles at once in numpy (no per-triangle or per-pixel Python loop, and no
pixel is tested in vain). The fragments are resolved per pixel by one sort on
``pixel + normalised depth`` (the nearest fragment comes first). Barycentrics are
perspective-correct, so depth and interpolated normals are exact for planar triangles.

Shading (:func:`shade`) is per pixel (Phong): interpolated vertex normals and albedo, wrapped
Lambert diffuse from a key light, a weak fill light, ambient and a Blinn-Phong highlight. The
hand is composited over a procedural background (:func:`make_background`: gradients,
low-frequency colour noise and blurred shapes) with slightly softened edges, then sensor noise.

Outputs (:class:`RenderResult`) keep what later stages need: ``rgb`` uint8, ``depth`` float32 mm
(0 where nothing was hit; :func:`depth_to_uint16` gives the 16-bit PNG form), ``part`` per pixel
(``hand_model.PART_*``) and ``mask`` (255 on the hand: palm, thenar and fingers; the forearm is
not hand).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import cv2
import numpy as np

from poseforge.generation.appearance import (Look, SceneConfig, detail_attributes, mottle_field,
                                             palm_tone, sample_look, sample_skin_tone)
from poseforge.generation.cameras import Camera, project_points
from poseforge.generation.hand_model import HAND_PART_MIN, PART_FOREARM, HandMesh


# --------------------------------------------------------------------------- rasterisation
@dataclass
class Fragments:
    """Per-pixel result of rasterisation.

    Attributes:
        face: (H, W) int32 index of the visible face, -1 for background.
        bary: (H, W, 3) float32 perspective-correct barycentric weights of that face.
        depth: (H, W) float32 camera-frame z in mm, 0 for background.
    """

    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray


def _front_facing(tri_cam: np.ndarray) -> np.ndarray:
    """Faces (F, 3, 3) in camera coordinates whose outward normal points at the camera."""
    normal = np.cross(tri_cam[:, 1] - tri_cam[:, 0], tri_cam[:, 2] - tri_cam[:, 0])
    return np.einsum('ij,ij->i', normal, tri_cam[:, 0]) < 0


def _min3(a: np.ndarray) -> np.ndarray:
    """Row minimum of an (N, 3) array: two elementwise minima (a reduction over a length-3
    axis pays numpy's per-row reduction set-up; exact, so the same bytes)."""
    return np.minimum(np.minimum(a[:, 0], a[:, 1]), a[:, 2])


def _max3(a: np.ndarray) -> np.ndarray:
    """Row maximum of an (N, 3) array (see :func:`_min3`)."""
    return np.maximum(np.maximum(a[:, 0], a[:, 1]), a[:, 2])


def _edge_coefficients(tri_uv: np.ndarray) -> np.ndarray:
    """(F, 3, 3) affine maps ``(x, y, 1) -> barycentric weight`` of each vertex.

    Row ``i`` of face ``f`` holds ``(a, b, c)`` with ``w_i = a x + b y + c``; the three weights
    sum to 1 everywhere and are all >= 0 exactly inside the triangle.
    """
    x0, y0 = tri_uv[:, 0, 0], tri_uv[:, 0, 1]
    x1, y1 = tri_uv[:, 1, 0], tri_uv[:, 1, 1]
    x2, y2 = tri_uv[:, 2, 0], tri_uv[:, 2, 1]
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    w0 = np.stack([y1 - y2, x2 - x1, x1 * y2 - x2 * y1], 1) / area[:, None]
    w1 = np.stack([y2 - y0, x0 - x2, x2 * y0 - x0 * y2], 1) / area[:, None]
    w2 = np.array([0.0, 0.0, 1.0]) - w0 - w1
    return np.stack([w0, w1, w2], 1)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of ``counts[k]`` items: each item's run index and its position in the run."""
    run = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return run, np.arange(len(run)) - starts[run]


def _spans(coef: np.ndarray, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray
           ) -> tuple[np.ndarray, ...]:
    """Scanline spans: for every (face, row) of the boxes, the pixel columns inside the face.

    For a fixed row each barycentric weight is linear in ``x``, ``w = a x + c``, so ``w >= 0``
    bounds ``x`` from one side; the span is the intersection, computed for all rows at once. A
    tiny tolerance makes pixels exactly on a shared edge belong to both faces (no cracks).
    Returns each span's face, row, first column, pixel count and its ``a``, ``c`` (S, 3).
    """
    face, dy = _expand(y1 - y0 + 1)
    y = (y0[face] + dy).astype(np.float64)
    a = coef[face, :, 0]                                   # (P, 3)
    c = coef[face, :, 1] * y[:, None] + coef[face, :, 2]
    eps = 1e-9
    with np.errstate(divide='ignore', invalid='ignore'):
        bound = -c / a
    low = _max3(np.where(a > eps, bound, -np.inf))
    high = _min3(np.where(a < -eps, bound, np.inf))
    flat = (np.abs(a) > eps) | (c >= -1e-7)
    flat_ok = flat[:, 0] & flat[:, 1] & flat[:, 2]   # edges parallel to the row
    left = np.maximum(np.ceil(low - 1e-7), x0[face])
    right = np.minimum(np.floor(high + 1e-7), x1[face])
    count = np.where(flat_ok, np.maximum(right - left + 1, 0), 0).astype(np.int64)
    return face, y.astype(np.int64), left.astype(np.int64), count, a, c


def rasterize(verts_cam: np.ndarray, faces: np.ndarray, K: np.ndarray, width: int,
              height: int, near: float = 1.0) -> Fragments:
    """Z-buffer rasterisation of a closed mesh given in camera coordinates (mm).

    Back faces are culled by the sign of their projected area (for a pinhole camera and
    vertices in front of it, the same test as the normal facing away from the eye, without
    a 3D cross product per face)."""
    uv = project_points(K, verts_cam)
    tri_uv = uv[faces]
    edge1, edge2 = tri_uv[:, 1] - tri_uv[:, 0], tri_uv[:, 2] - tri_uv[:, 0]
    area = edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0]
    keep = (area < -1e-9) & (_min3(verts_cam[:, 2][faces]) > near)
    face_ids = np.nonzero(keep)[0]
    tri_uv = tri_uv[face_ids]
    u, v = tri_uv[..., 0], tri_uv[..., 1]
    x0 = np.maximum(np.ceil(_min3(u)), 0).astype(np.int64)
    x1 = np.minimum(np.floor(_max3(u)), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(_min3(v)), 0).astype(np.int64)
    y1 = np.minimum(np.floor(_max3(v)), height - 1).astype(np.int64)
    hit = (x0 <= x1) & (y0 <= y1)                          # covers a pixel centre's box
    face_ids, tri_uv = face_ids[hit], tri_uv[hit]
    coef = _edge_coefficients(tri_uv)
    span_face, span_y, span_x, count, a, c = _spans(coef, x0[hit], y0[hit], x1[hit], y1[hit])
    span, dx = _expand(count)
    px, py = span_x[span] + dx, span_y[span]
    w = a[span] * px[:, None] + c[span]
    return _resolve(face_ids[span_face[span]], px, py, np.clip(w, 0.0, 1.0), faces,
                    verts_cam[:, 2], width, height)


def _resolve(face: np.ndarray, px: np.ndarray, py: np.ndarray, w: np.ndarray,
             faces: np.ndarray, z: np.ndarray, width: int, height: int) -> Fragments:
    """Keep the nearest fragment per pixel and write the buffers.

    ``w`` holds screen-space barycentrics; depth interpolates ``1 / z`` linearly on screen,
    which is exact under perspective, and the stored weights are perspective-corrected.
    """
    face_buf = np.full((height, width), -1, dtype=np.int32)
    bary_buf = np.zeros((height, width, 3), dtype=np.float32)
    depth_buf = np.zeros((height, width), dtype=np.float32)
    if len(face) == 0:
        return Fragments(face_buf, bary_buf, depth_buf)
    weighted = w / z[faces[face]]                       # (M, 3)
    inv_depth = weighted[:, 0] + weighted[:, 1] + weighted[:, 2]
    depth = 1.0 / inv_depth
    pix = py * width + px
    span = depth.max() - depth.min() + 1e-6
    order = np.argsort(pix + 0.999 * (depth - depth.min()) / span)
    pix_sorted = pix[order]
    first = order[np.r_[True, pix_sorted[1:] != pix_sorted[:-1]]]
    flat = pix[first]
    face_buf.reshape(-1)[flat] = face[first]
    bary_buf.reshape(-1, 3)[flat] = weighted[first] / inv_depth[first, None]
    depth_buf.reshape(-1)[flat] = depth[first]
    return Fragments(face_buf, bary_buf, depth_buf)


# --------------------------------------------------------------------------- appearance
@dataclass(frozen=True)
class Appearance:
    """Materials and lights of one sample (shared by its views: same hand, same room).

    Colours are RGB in [0, 1]. ``light_dir`` points from the surface to the key light, in the
    *world* frame, so every view of a sample is lit consistently.
    """

    skin: np.ndarray
    palm: np.ndarray
    nail: np.ndarray
    light_dir: np.ndarray
    light_color: np.ndarray
    ambient: float
    diffuse: float
    wrap: float
    fill: float
    specular: float
    shininess: float
    noise_sigma: float
    blur_sigma: float
    look: Look | None = None


#: Skin tones from dark to light (linear interpolation between neighbours).
_SKIN_TONES = np.array([[0.30, 0.19, 0.13], [0.50, 0.33, 0.23], [0.70, 0.50, 0.38],
                        [0.84, 0.64, 0.52], [0.95, 0.80, 0.70]])


def sample_skin(rng: np.random.Generator) -> np.ndarray:
    """A skin colour: a point on the dark-to-light tone scale with small hue jitter."""
    pos = rng.uniform(0, len(_SKIN_TONES) - 1)
    low = int(min(pos, len(_SKIN_TONES) - 2))
    tone = _SKIN_TONES[low] + (pos - low) * (_SKIN_TONES[low + 1] - _SKIN_TONES[low])
    return np.clip(tone * rng.normal(1.0, 0.04, 3), 0.05, 1.0)


def sample_appearance(rng: np.random.Generator, scene: SceneConfig | None = None
                      ) -> Appearance:
    """Random skin, nail and lighting, within ranges that keep hands looking like hands.

    Without ``scene`` (or with the legacy one) this is poseforge's original look. Otherwise the
    same values are drawn first (so ``rng`` moves exactly as before and every later draw, poses
    and cameras included, is unchanged) and the :class:`~appearance.Look` comes from a child
    generator (``rng.spawn``, which does not move ``rng``'s stream).
    """
    legacy = _legacy_appearance(rng)
    if scene is None or scene.legacy:
        return legacy
    sub = rng.spawn(1)[0]
    skin = sample_skin_tone(sub) if scene.skin_tones == 'full' else legacy.skin
    palm = palm_tone(skin, sub) if scene.skin_tones == 'full' else legacy.palm
    nail = np.clip(np.array([0.93, 0.80, 0.78]) * 0.6 + 0.4 * palm, 0, 1)
    return replace(legacy, skin=skin, palm=palm, nail=nail, noise_sigma=0.0, blur_sigma=0.0,
                   look=sample_look(sub, scene, skin))


def _legacy_appearance(rng: np.random.Generator) -> Appearance:
    skin = sample_skin(rng)
    palm = np.clip(skin + (1.0 - skin) * rng.uniform(0.15, 0.35) * np.array([1.0, 0.85, 0.8]),
                   0, 1)
    nail = np.clip(0.55 * np.array([0.96, 0.84, 0.82]) + 0.45 * palm, 0, 1)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    return Appearance(
        skin=skin, palm=palm, nail=nail, light_dir=direction,
        light_color=np.clip(rng.normal(1.0, 0.06, 3), 0.8, 1.2),
        ambient=rng.uniform(0.2, 0.4), diffuse=rng.uniform(0.55, 0.8),
        wrap=rng.uniform(0.0, 0.45), fill=rng.uniform(0.05, 0.25),
        specular=rng.uniform(0.02, 0.18), shininess=rng.uniform(6.0, 30.0),
        noise_sigma=rng.uniform(0.0, 0.02),
        blur_sigma=rng.uniform(0.4, 1.0) if rng.uniform() < 0.3 else 0.0)


def vertex_albedo(mesh: HandMesh, appearance: Appearance) -> np.ndarray:
    """Per-vertex colour (N, 3): skin, lighter on the palmar side, nails on the fingertips.

    Reads the per-vertex ``palmar`` cosine, so the palm tone follows the anatomy whatever the
    pose (the thumb's palmar side included), with a soft transition around the sides.
    """
    ramp = np.clip((mesh.palmar + 0.2) / 0.8, 0.0, 1.0)
    palmar = (ramp * ramp * (3 - 2 * ramp) * 0.85)[:, None]
    color = appearance.skin * (1 - palmar) + appearance.palm * palmar
    detail = appearance.look.detail if appearance.look is not None else None
    if detail is not None and len(mesh.vertices) == len(detail_attributes()):
        # Darker, redder knuckles; blotchy variation of melanin and blood (about +-5 %).
        knuckle = detail_attributes()[:, 5:6] * detail.knuckles
        color = color * (1 - knuckle * np.array([0.25, 0.4, 0.4]))
        mottle = mottle_field(detail.seed, len(mesh.vertices))[:, None]
        color = color * (1 + detail.mottle * mottle * np.array([1.0, 0.8, 0.7]))
    nail = mesh.nail[:, None]
    return np.clip(color * (1 - nail) + appearance.nail * nail, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- shading
def view_rays(K: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Unit rays (M, 3) through the centres of the ``covered`` pixels, camera frame."""
    ys, xs = np.nonzero(covered)
    rays = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1],
                     np.ones(len(xs))], -1)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def shade(frags: Fragments, faces: np.ndarray, normals_cam: np.ndarray, albedo: np.ndarray,
          light_cam: np.ndarray, appearance: Appearance, K: np.ndarray) -> np.ndarray:
    """Linear-light colour (H, W, 3) float32 of the covered pixels (0 elsewhere)."""
    height, width = frags.face.shape
    covered = frags.face >= 0
    tri = faces[frags.face[covered]]
    bary = frags.bary[covered][..., None]
    normal = (normals_cam[tri] * bary).sum(1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    color = (albedo[tri] * bary).sum(1)
    view = -view_rays(K, covered)
    # A pixel that sees an interpolated normal facing away (silhouette) is lit as grazing.
    facing = np.einsum('ij,ij->i', normal, view)
    normal = np.where(facing[:, None] < 0, normal - 1.05 * facing[:, None] * view, normal)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12

    n_dot_l = normal @ light_cam
    diffuse = np.clip((n_dot_l + appearance.wrap) / (1 + appearance.wrap), 0, None)
    fill = np.clip(normal @ -light_cam, 0, None) * appearance.fill
    half = light_cam[None] + view
    half /= np.linalg.norm(half, axis=1, keepdims=True) + 1e-12
    spec = np.clip(np.einsum('ij,ij->i', normal, half), 0, None) ** appearance.shininess
    spec *= appearance.specular * (n_dot_l > 0)
    light = appearance.ambient + appearance.diffuse * diffuse[:, None] * appearance.light_color
    rgb = color * (light + fill[:, None]) + spec[:, None] * appearance.light_color
    out = np.zeros((height, width, 3), dtype=np.float32)
    out[covered] = rgb
    return out


# --------------------------------------------------------------------------- backgrounds
def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32) * np.float32(np.cos(angle))
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32) * np.float32(np.sin(angle))
    ramp = ys[:, None, None] + xs[None, :, None] + np.float32(0.5)
    c0, c1 = _random_colour(rng).astype(np.float32), _random_colour(rng).astype(np.float32)
    return c0 + ramp * (c1 - c0)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A colour with random brightness and a saturation biased low (rooms are mostly muted)."""
    grey = rng.uniform(0.08, 0.92)
    hue = rng.uniform(0.0, 1.0, 3)
    saturation = rng.uniform(0.0, 1.0) ** 1.5
    return np.clip(grey + saturation * (hue - hue.mean()), 0.0, 1.0)


def _colour_noise(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    cells = int(rng.integers(2, 7))
    grid = rng.normal(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _shapes(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Blurred random ellipses, rectangles and thick lines drawn over ``canvas``."""
    height, width = canvas.shape[:2]
    layer = canvas.copy()
    for _ in range(int(rng.integers(2, 9))):
        color = tuple(float(c) for c in _random_colour(rng))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(width // 12, width // 2))
        kind = rng.integers(3)
        if kind == 0:
            cv2.ellipse(layer, (cx, cy), (size, int(size * rng.uniform(0.3, 1.0))),
                        float(rng.uniform(0, 180)), 0, 360, color, -1)
        elif kind == 1:
            cv2.rectangle(layer, (cx - size, cy - size // 2), (cx + size // 2, cy + size), color,
                          -1)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(layer, (cx, cy), end, color, max(2, size // 6))
    sigma = rng.uniform(1.5, 0.04 * width + 1.5)
    return cv2.GaussianBlur(layer, (0, 0), sigma)


def make_background(rng: np.random.Generator, width: int, height: int,
                    scene: SceneConfig | None = None) -> np.ndarray:
    """A procedural background (H, W, 3) float32 in [0, 1].

    Legacy (no ``scene``, or ``background='legacy'``): gradient, colour noise, blurred shapes.
    Otherwise :func:`poseforge.generation.backgrounds.clutter_background`.
    """
    if scene is not None and not scene.legacy and scene.background == 'clutter':
        from poseforge.generation.backgrounds import clutter_background
        return clutter_background(rng, width, height, scene.distractor_prob)
    image = _gradient(rng, width, height)
    image += rng.uniform(0.02, 0.15) * _colour_noise(rng, width, height)
    if rng.uniform() < 0.7:
        image = _shapes(rng, image)
    return np.clip(image, 0.0, 1.0)


def ensure_contrast(background: np.ndarray, skin: np.ndarray, min_distance: float = 0.18
                    ) -> np.ndarray:
    """Push the background's mean colour away from the skin colour if they are too close.

    Why: a hand on a same-coloured wall is a legitimate hard case, but the default data should
    be learnable by a small model in minutes; real datasets rarely have it either.
    """
    mean = background.reshape(-1, 3).mean(0)
    gap = mean - skin
    distance = float(np.linalg.norm(gap))
    if distance >= min_distance:
        return background
    direction = gap / distance if distance > 1e-6 else np.array([-1.0, -1.0, -1.0]) / np.sqrt(3)
    if np.all(np.clip(mean + direction * min_distance, 0, 1) == mean + direction * min_distance):
        shift = direction * (min_distance - distance)
    else:
        shift = (0.5 - skin) * 0.8   # near the gamut edge: move towards the opposite tone
    return np.clip(background + shift.astype(np.float32), 0.0, 1.0)


# --------------------------------------------------------------------------- one view
@dataclass
class RenderResult:
    """One rendered view: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 mm (0 = nothing),
    ``part`` (H, W) uint8 part id (0 where the background or an object is seen), ``mask``
    (H, W) uint8 (255 on the visible hand: palm, thenar, fingers; never the forearm or its
    sleeve, never an object in front of the hand), ``objects`` (H, W) uint8 (255 where an
    object of :mod:`occluders` is the nearest surface; ``None`` when the scene has none).

    ``depth`` is what a depth camera would see: hand, forearm and objects."""

    rgb: np.ndarray
    depth: np.ndarray
    part: np.ndarray
    mask: np.ndarray
    objects: np.ndarray | None = None


def render_view(mesh_world: HandMesh, albedo: np.ndarray, camera: Camera,
                appearance: Appearance, background: np.ndarray,
                rng: np.random.Generator) -> RenderResult:
    """Render ``mesh_world`` seen by ``camera`` over ``background`` (float, [0, 1]).

    With an :class:`~appearance.Look` in ``appearance`` this is :func:`render_realistic`.
    """
    if appearance.look is not None:
        from poseforge.generation.realistic import render_realistic
        return render_realistic(mesh_world, albedo, camera, appearance, background, rng)
    verts_cam = camera.to_camera(mesh_world.vertices)
    normals_cam = mesh_world.normals @ camera.R.T
    frags = rasterize(verts_cam, mesh_world.faces, camera.K, camera.width, camera.height)
    light_cam = camera.R @ appearance.light_dir
    # Keep the key light on the camera's side of the hand so views are rarely unlit.
    if light_cam[2] > -0.2:
        light_cam = light_cam.copy()
        light_cam[2] = -0.2 - 0.5 * abs(light_cam[2])
        light_cam /= np.linalg.norm(light_cam)
    color = shade(frags, mesh_world.faces, normals_cam, albedo, light_cam, appearance, camera.K)
    covered = frags.face >= 0
    part = np.zeros(covered.shape, dtype=np.uint8)
    part[covered] = mesh_world.face_part[frags.face[covered]]
    image = composite(background, color, covered)
    if appearance.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), appearance.blur_sigma)
    if appearance.noise_sigma > 0:
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(
            appearance.noise_sigma)
    np.maximum(image, 0.0, out=image)
    rgb = cv2.convertScaleAbs(image, alpha=255.0)   # rounds and saturates at 255
    mask = np.where(part >= HAND_PART_MIN, 255, 0).astype(np.uint8)
    result = RenderResult(rgb=rgb, depth=frags.depth, part=part, mask=mask)
    return distort_render(result, camera) if camera.dist is not None else result


def distort_render(result: RenderResult, camera: Camera) -> RenderResult:
    """The render as the camera's distorting lens sees it (colour bilinear, buffers nearest).

    The hand is rasterised through the ideal pinhole ``K``; each output pixel then fetches the
    undistorted position it sees (:func:`poseforge.generation.rigs.distortion_maps`), so depth
    stays the camera-frame ``z`` of the surface point seen at that pixel.
    """
    from poseforge.generation.rigs import distortion_maps
    map_x, map_y = distortion_maps(camera)

    def warp(image: np.ndarray, interpolation: int) -> np.ndarray:
        return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)

    return RenderResult(rgb=warp(result.rgb, cv2.INTER_LINEAR),
                        depth=warp(result.depth, cv2.INTER_NEAREST),
                        part=warp(result.part, cv2.INTER_NEAREST),
                        mask=warp(result.mask, cv2.INTER_NEAREST),
                        objects=None if result.objects is None
                        else warp(result.objects, cv2.INTER_NEAREST))


def composite(background: np.ndarray, color: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """The hand over the background, its outline softened outwards by about a pixel.

    Works inside the hand's bounding box (plus a margin) only, the rest is background.
    """
    image = background.astype(np.float32, copy=True)
    rows, cols = np.nonzero(covered.any(1))[0], np.nonzero(covered.any(0))[0]
    if not len(rows):
        return image
    height, width = covered.shape
    y0, y1 = max(rows[0] - 2, 0), min(rows[-1] + 3, height)
    x0, x1 = max(cols[0] - 2, 0), min(cols[-1] + 3, width)
    inside = covered[y0:y1, x0:x1]
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (3, 3), 0.6)
    alpha = np.maximum(alpha, inside)[..., None]   # keep the hand itself opaque
    crop = image[y0:y1, x0:x1]
    image[y0:y1, x0:x1] = crop + alpha * (color[y0:y1, x0:x1] - crop)
    return image


def depth_to_uint16(depth_mm: np.ndarray) -> np.ndarray:
    """Depth in whole millimetres as uint16 (0 = no surface), the 16-bit PNG convention."""
    return np.clip(np.rint(depth_mm), 0, 65535).astype(np.uint16)
