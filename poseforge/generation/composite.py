"""Hands composited onto new backgrounds: detection training images with free boxes.

The generator renders one hand per image on a procedural background, always about the same
size and centred, so a detector trained on those images alone learns "the middle of the
picture". Here each generated hand is cut out with its own mask (exact, anti-aliased by a
1-px feather), then placed on a fresh background with a random size (log-uniform: hands from a
tenth to most of the frame height), rotation, mirror (which turns a right hand into a left one)
and position, up to ``max_hands`` per image, kept apart so the boxes stay separable. The box of
each placed hand is the bounding box of its warped mask, so it is exact whatever the rotation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from poseforge.generation.renderer import make_background

LEFT, RIGHT, UNKNOWN = 1, 0, -1


@dataclass
class Cutout:
    """A hand cut from a generated view: RGB (h, w, 3) uint8, alpha (h, w) float32, side."""

    rgb: np.ndarray
    alpha: np.ndarray
    side: int


def cut_out_hand(rgb: np.ndarray, mask: np.ndarray, side: int, pad: int = 2) -> Cutout | None:
    """The mask's bounding rectangle (plus ``pad``) of ``rgb``; ``None`` for an empty mask."""
    ys, xs = np.nonzero(mask > 127)
    if len(xs) == 0:
        return None
    h, w = mask.shape[:2]
    x1, y1 = max(int(xs.min()) - pad, 0), max(int(ys.min()) - pad, 0)
    x2, y2 = min(int(xs.max()) + pad + 1, w), min(int(ys.max()) + pad + 1, h)
    alpha = cv2.GaussianBlur((mask[y1:y2, x1:x2] > 127).astype(np.float32), (3, 3), 0.7)
    return Cutout(np.ascontiguousarray(rgb[y1:y2, x1:x2]), alpha, side)


def background_canvas(rng: np.random.Generator, size: Sequence[int],
                      images: Sequence[np.ndarray] = ()) -> np.ndarray:
    """A (h, w, 3) uint8 background: a random crop of one of ``images`` when given (half the
    time), else the generator's procedural gradient, noise and shapes."""
    w, h = int(size[0]), int(size[1])
    if len(images) and rng.uniform() < 0.5:
        src = images[int(rng.integers(len(images)))]
        scale = max(w / src.shape[1], h / src.shape[0]) * rng.uniform(1.0, 2.0)
        big = cv2.resize(src, (max(w, math.ceil(src.shape[1] * scale)),
                               max(h, math.ceil(src.shape[0] * scale))))
        x = int(rng.integers(big.shape[1] - w + 1))
        y = int(rng.integers(big.shape[0] - h + 1))
        return np.ascontiguousarray(big[y:y + h, x:x + w])
    return (make_background(rng, w, h) * 255).astype(np.uint8)


def placement_matrix(cutout: Cutout, centre: Sequence[float], long_side: float, angle: float,
                     flip: bool) -> np.ndarray:
    """2x3 cutout px -> canvas px: mirror (optional), scale its longer side to ``long_side``,
    rotate by ``angle`` degrees about its centre and move that centre to ``centre``."""
    h, w = cutout.alpha.shape
    scale = long_side / max(h, w)
    rot = cv2.getRotationMatrix2D((0.0, 0.0), angle, scale)       # about the origin
    mirror = np.array([[-1.0 if flip else 1.0, 0.0], [0.0, 1.0]])
    linear = rot[:, :2] @ mirror
    src_centre = np.array([(w - 1) / 2, (h - 1) / 2])
    return np.concatenate([linear, (np.asarray(centre) - linear @ src_centre)[:, None]], 1)


def paste(canvas: np.ndarray, cutout: Cutout, matrix: np.ndarray) -> np.ndarray | None:
    """Alpha-blend the warped cutout into ``canvas`` (in place); its box, or ``None`` if the
    hand landed wholly outside."""
    h, w = canvas.shape[:2]
    alpha = cv2.warpAffine(cutout.alpha, matrix, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ys, xs = np.nonzero(alpha > 0.5)
    if len(xs) == 0:
        return None
    rgb = cv2.warpAffine(cutout.rgb, matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = alpha[y1:y2, x1:x2, None]
    region = canvas[y1:y2, x1:x2].astype(np.float32)
    canvas[y1:y2, x1:x2] = (region * (1 - a) + rgb[y1:y2, x1:x2] * a + 0.5).astype(np.uint8)
    return np.array([x1, y1, x2, y2], np.float32)


def _overlap(box: np.ndarray, boxes: list[np.ndarray]) -> float:
    if not boxes:
        return 0.0
    others = np.stack(boxes)
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 1)
    area = np.prod(box[2:] - box[:2])
    return float((inter / np.maximum(area, 1e-6)).max())


def composite_hands(rng: np.random.Generator, cutouts: Sequence[Cutout],
                    canvas_size: Sequence[int] = (320, 240),
                    scale_range: Sequence[float] = (0.1, 0.8), max_angle: float = 45.0,
                    backgrounds: Sequence[np.ndarray] = (), max_overlap: float = 0.15,
                    tries: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place ``cutouts`` on a new background; returns ``(rgb, boxes (N, 4), sides (N,))``.

    Sizes: the hand's longer side is a log-uniform fraction ``scale_range`` of the canvas
    height. A mirrored cutout has the other side. A placement whose box covers more than
    ``max_overlap`` of an earlier hand (or of whose own box an earlier hand covers that much)
    is redrawn, up to ``tries`` times, then that hand is left out.
    """
    w, h = int(canvas_size[0]), int(canvas_size[1])
    canvas = background_canvas(rng, (w, h), backgrounds)
    boxes: list[np.ndarray] = []
    sides: list[int] = []
    lo, hi = np.log(scale_range)
    for cutout in cutouts:
        for _ in range(tries):
            long_side = float(np.exp(rng.uniform(lo, hi))) * h
            angle = float(rng.uniform(-max_angle, max_angle))
            flip = bool(rng.uniform() < 0.5)
            margin = 0.3 * long_side  # a hand may be partly cut by the frame edge
            centre = (rng.uniform(-margin + long_side / 2, w + margin - long_side / 2),
                      rng.uniform(-margin + long_side / 2, h + margin - long_side / 2))
            matrix = placement_matrix(cutout, centre, long_side, angle, flip)
            corners = np.array([[0, 0], [cutout.alpha.shape[1], 0], [0, cutout.alpha.shape[0]],
                                [cutout.alpha.shape[1], cutout.alpha.shape[0]]], np.float64)
            pts = corners @ matrix[:, :2].T + matrix[:, 2]
            rough = np.concatenate([pts.min(0), pts.max(0)]).clip(0, [w, h, w, h])
            if (rough[2:] - rough[:2]).min() < 4:
                continue
            if _overlap(rough, boxes) > max_overlap or any(
                    _overlap(b, [rough]) > max_overlap for b in boxes):
                continue
            box = paste(canvas, cutout, matrix)
            if box is None:
                continue
            boxes.append(box)
            side = cutout.side
            sides.append(1 - side if flip and side in (LEFT, RIGHT) else side)
            break
    return (canvas, np.array(boxes, np.float32).reshape(-1, 4),
            np.array(sides, np.int64).reshape(-1))


def moving_hands_video(cutouts: Sequence[Cutout], centres: np.ndarray, long_side: float,
                       size: Sequence[int] = (640, 480), seed: int = 0,
                       background: np.ndarray | None = None
                       ) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of hands moving over one background, and their boxes.

    Args:
        cutouts: one hand per track.
        centres: ``(frames, hands, 2)`` centre of each hand per frame (px); a centre off the
            frame (or NaN) leaves the hand out of that frame.
        long_side: the hands' longer side in px.
        size: frame ``(w, h)``.
        seed: the background's (procedural, unless ``background`` is given).

    Returns:
        RGB frames and ``(frames, hands, 4)`` boxes (NaN where the hand is not in the frame).
    """
    w, h = int(size[0]), int(size[1])
    rng = np.random.default_rng(seed)
    base = background if background is not None else background_canvas(rng, (w, h))
    centres = np.asarray(centres, np.float64)
    boxes = np.full(centres.shape[:2] + (4,), np.nan, np.float32)
    frames = []
    for f in range(len(centres)):
        canvas = base.copy()
        for k, cutout in enumerate(cutouts):
            centre = centres[f, k]
            if not np.isfinite(centre).all():
                continue
            box = paste(canvas, cutout, placement_matrix(cutout, centre, long_side, 0.0, False))
            if box is not None:
                boxes[f, k] = box
        frames.append(canvas)
    return frames, boxes
