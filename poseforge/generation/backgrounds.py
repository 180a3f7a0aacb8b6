"""Procedural cluttered backgrounds: surfaces, clutter, text, depth of field, skin distractors.

Why: behind a real hand there is a room: walls, desks, wood, fabric, printed paper, screens, and
very often other skin (the face, the other hand, an arm). A model that only ever saw a hand on a
blurred colour field learns "the skin-coloured blob is the hand"; one that saw skin-coloured
distractors must find the hand's shape instead. Users with photographs pass
``--backgrounds DIR`` (random crops of them are used instead of this).

Everything is drawn with OpenCV primitives and whole-image numpy operations (no per-pixel
Python), in float32 RGB in [0, 1], from the unit's generator (so a seed gives the same
background whatever the number of workers).
"""
from __future__ import annotations

import cv2
import numpy as np

from poseforge.generation.appearance import sample_skin_tone

SURFACES = ('wall', 'wood', 'fabric', 'tiles', 'noise', 'gradient')
_GLYPHS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:-/%'


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A colour with random brightness and a saturation biased low (rooms are mostly muted)."""
    grey = rng.uniform(0.05, 0.95)
    hue = rng.uniform(0.0, 1.0, 3)
    saturation = rng.uniform(0.0, 1.0) ** 1.5
    return np.clip(grey + saturation * (hue - hue.mean()), 0.0, 1.0)


def _noise(rng: np.random.Generator, width: int, height: int, cells: int,
           channels: int = 1) -> np.ndarray:
    """Smooth noise (H, W, C) float32, about unit variance: a random grid, cubic upsampled."""
    grid = rng.normal(0.0, 1.0, (cells, cells, channels)).astype(np.float32)
    out = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return out.reshape(height, width, channels)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones at half resolution (the result is smooth anyway, 4x cheaper)."""
    if sigma <= 2.5:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(width // 2, 1), max(height // 2, 1)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 2.0)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _coords(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(width, dtype=np.float32)[None, :],
            np.arange(height, dtype=np.float32)[:, None])


def surface(rng: np.random.Generator, width: int, height: int, kind: str | None = None
            ) -> np.ndarray:
    """A base surface (H, W, 3) float32: wall, wood, fabric, tiles, noise or gradient."""
    kind = kind or SURFACES[int(rng.integers(len(SURFACES)))]
    c0, c1 = random_colour(rng).astype(np.float32), random_colour(rng).astype(np.float32)
    x, y = _coords(width, height)
    if kind == 'wood':
        c0 = np.array([0.45, 0.3, 0.17], np.float32) * rng.uniform(0.5, 1.6)
        c1 = c0 * rng.uniform(0.55, 0.8)
        angle = rng.uniform(0, np.pi)
        u = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
        warp = _noise(rng, width, height, 4)[..., 0] * np.float32(rng.uniform(4, 14))
        grain = 0.5 + 0.5 * np.sin(u / np.float32(rng.uniform(2.0, 7.0)) + warp)
        t = grain[..., None] ** np.float32(rng.uniform(1.0, 3.0))
    elif kind == 'fabric':
        period = np.float32(rng.uniform(1.5, 5.0))
        t = (0.5 + 0.25 * np.sin(x / period) + 0.25 * np.sin(y / period))[..., None]
        t = t + 0.15 * _noise(rng, width, height, 24)
    elif kind == 'tiles':
        t = np.zeros((height, width, 1), np.float32)
        step = int(rng.integers(max(width // 10, 6), max(width // 3, 8)))
        canvas = np.zeros((height, width), np.float32)
        for k in range(0, max(width, height) + step, step):
            cv2.line(canvas, (k, 0), (k, height), 1.0, max(1, step // 16))
            cv2.line(canvas, (0, k), (width, k), 1.0, max(1, step // 16))
        t = canvas[..., None]
    elif kind == 'noise':
        t = np.zeros((height, width, 1), np.float32)
        out = np.zeros((height, width, 3), np.float32)
        for octave, weight in ((3, 0.5), (8, 0.3), (24, 0.2)):
            out += weight * _noise(rng, width, height, octave, 3)
        base = random_colour(rng).astype(np.float32)
        return np.clip(base + out * np.float32(rng.uniform(0.1, 0.3)), 0, 1)
    elif kind == 'gradient':
        angle = rng.uniform(0, 2 * np.pi)
        t = ((x / max(width, 1) - 0.5) * np.float32(np.cos(angle))
             + (y / max(height, 1) - 0.5) * np.float32(np.sin(angle)) + 0.5)[..., None]
    else:   # wall: flat with a little low-frequency shading
        t = 0.5 + 0.2 * _noise(rng, width, height, 3)
        c1 = c0 * np.float32(rng.uniform(0.7, 1.1))
    image = c0 + np.clip(t, 0, 1) * (c1 - c0)
    image = image + np.float32(rng.uniform(0.0, 0.04)) * _noise(rng, width, height, 48, 3)
    return np.clip(image, 0, 1).astype(np.float32)


def _polygon(rng: np.random.Generator, cx: float, cy: float, size: float) -> np.ndarray:
    count = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = size * rng.uniform(0.4, 1.0, count)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(
        np.int32)


def draw_clutter(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Draw ``count`` random objects (in place): boxes, polygons, ellipses, lines, text."""
    height, width = image.shape[:2]
    for _ in range(count):
        colour = tuple(float(c) for c in random_colour(rng))
        cx, cy = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        size = float(rng.uniform(0.04, 0.35) * width)
        kind = int(rng.integers(6))
        if kind == 0:
            x0, y0 = int(cx - size), int(cy - size * rng.uniform(0.2, 1.0))
            cv2.rectangle(image, (x0, y0), (int(cx + size), int(cy + size)), colour, -1)
            if rng.uniform() < 0.5:
                edge = tuple(float(c) for c in random_colour(rng))
                cv2.rectangle(image, (x0, y0), (int(cx + size), int(cy + size)), edge,
                              int(rng.integers(1, 4)))
        elif kind == 1:
            cv2.fillPoly(image, [_polygon(rng, cx, cy, size)], colour, cv2.LINE_AA)
        elif kind == 2:
            cv2.ellipse(image, (int(cx), int(cy)), (int(size), int(size * rng.uniform(0.2, 1))),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        elif kind == 3:
            end = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.line(image, (int(cx), int(cy)), end, colour, int(rng.integers(1, 6)),
                     cv2.LINE_AA)
        elif kind == 4:
            text = ''.join(rng.choice(list(_GLYPHS), int(rng.integers(3, 14))))
            font, scale = int(rng.integers(0, 8)), float(rng.uniform(0.3, 1.6)) * width / 256
            thickness = int(rng.integers(1, 3))
            (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
            x0, y0 = max(int(cx - size), 0), max(int(cy) - th - 2, 0)
            x1, y1 = min(int(cx - size) + tw + 2, width), min(int(cy) + base + 2, height)
            if x1 <= x0 or y1 <= y0:
                continue
            ink = np.zeros((y1 - y0, x1 - x0), np.uint8)   # OpenCV draws text on 8-bit only
            cv2.putText(ink, text, (int(cx - size) - x0, int(cy) - y0), font, scale, 255,
                        thickness, cv2.LINE_AA)
            alpha = (ink.astype(np.float32) / 255.0)[..., None]
            roi = image[y0:y1, x0:x1]
            roi += alpha * (np.array(colour, np.float32) - roi)
        else:   # a framed printed sheet: light with a dark symbol on it
            paper = tuple(float(v) for v in np.clip(rng.uniform(0.8, 1.0, 3), 0, 1))
            x0, y0 = int(cx - size), int(cy - 0.7 * size)
            cv2.rectangle(image, (x0, y0), (int(cx + size), int(cy + 0.7 * size)), paper, -1)
            cv2.circle(image, (int(cx), int(cy)), max(int(0.45 * size), 1), colour,
                       max(int(0.08 * size), 1), cv2.LINE_AA)


def _shaded(mask: np.ndarray, colour: np.ndarray, angle: float) -> np.ndarray:
    """A rounded-looking fill: the colour darkened towards the mask's edge and on one side
    (``angle``: where the light comes from)."""
    dist = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3)
    scale = max(float(dist.max()), 1.0)
    shade = 0.55 + 0.45 * np.sqrt(np.clip(dist / scale, 0, 1))
    height, width = mask.shape
    x, y = _coords(width, height)
    side = 1.0 + 0.15 * ((x / width - 0.5) * np.float32(np.cos(angle))
                         + (y / height - 0.5) * np.float32(np.sin(angle)))
    return (colour[None, None, :].astype(np.float32) * (shade * side)[..., None])


def draw_distractor(rng: np.random.Generator, image: np.ndarray) -> None:
    """One skin-coloured distractor (in place): a face, a hand-like shape, an arm or a blob."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    skin = sample_skin_tone(rng)
    kind = int(rng.integers(4))
    cx, cy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
    size = float(rng.uniform(0.1, 0.35) * width)
    if kind == 0:        # a face: an oval with darker eyes and mouth
        axes = (int(size * 0.75), int(size))
        cv2.ellipse(mask, (cx, cy), axes, float(rng.uniform(-20, 20)), 0, 360, 255, -1)
    elif kind == 1:      # a hand-like shape: palm and finger capsules
        cv2.ellipse(mask, (cx, cy), (int(size * 0.45), int(size * 0.5)),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1)
        base = rng.uniform(0, 2 * np.pi)
        for k in range(int(rng.integers(2, 6))):
            angle = base + (k - 2) * rng.uniform(0.2, 0.45)
            length = size * rng.uniform(0.6, 1.1)
            tip = (int(cx + length * np.cos(angle)), int(cy + length * np.sin(angle)))
            cv2.line(mask, (cx, cy), tip, 255, max(int(size * rng.uniform(0.12, 0.2)), 2))
    elif kind == 2:      # an arm crossing the image
        end = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        cv2.line(mask, (cx, cy), end, 255, max(int(size * 0.5), 3))
    else:                # a blob
        cv2.fillPoly(mask, [_polygon(rng, cx, cy, size)], 255, cv2.LINE_AA)
    angle = rng.uniform(0, 2 * np.pi)
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if not len(rows):
        return
    y0, y1 = max(rows[0] - 2, 0), min(rows[-1] + 3, height)
    x0, x1 = max(cols[0] - 2, 0), min(cols[-1] + 3, width)
    roi_mask = cv2.GaussianBlur(mask[y0:y1, x0:x1], (0, 0), 0.8)
    fill = _shaded(roi_mask, skin, angle)
    if kind == 0:
        dark = tuple(float(c) for c in skin * 0.35)
        for dx in (-0.3, 0.3):
            cv2.ellipse(fill, (int(cx + dx * size) - x0, int(cy - 0.15 * size) - y0),
                        (max(int(size * 0.12), 1), max(int(size * 0.06), 1)), 0, 0, 360, dark,
                        -1)
        cv2.ellipse(fill, (cx - x0, int(cy + 0.45 * size) - y0),
                    (max(int(size * 0.25), 1), max(int(size * 0.06), 1)), 0, 0, 360, dark, -1)
    alpha = (roi_mask.astype(np.float32) / 255.0)[..., None]
    roi = image[y0:y1, x0:x1]
    roi += alpha * (fill - roi)


def clutter_background(rng: np.random.Generator, width: int, height: int,
                       distractor_prob: float = 0.6) -> np.ndarray:
    """A cluttered background (H, W, 3) float32 in [0, 1].

    A surface, far clutter blurred by depth of field, nearer clutter sharper, skin-coloured
    distractors (with probability ``distractor_prob``), and an uneven illumination over all.
    """
    image = surface(rng, width, height)
    draw_clutter(rng, image, int(rng.integers(2, 10)))
    if rng.uniform() < 0.7:
        image = blur(image, float(rng.uniform(0.6, 0.03 * width + 0.6)))
    draw_clutter(rng, image, int(rng.integers(0, 5)))
    distractor_rng = rng.spawn(1)[0]    # on or off, the draws after this are the same
    if rng.uniform() < distractor_prob:
        for _ in range(int(distractor_rng.integers(1, 4))):
            draw_distractor(distractor_rng, image)
    if rng.uniform() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 2.0)))
    light = 1.0 + np.float32(rng.uniform(0.05, 0.35)) * _noise(rng, width, height, 2)
    return np.clip(image * light, 0.0, 1.0).astype(np.float32)


__all__ = ['SURFACES', 'clutter_background', 'draw_clutter', 'draw_distractor',
           'random_colour', 'surface']
