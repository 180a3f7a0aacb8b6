"""Detection transforms: whole-image boxes instead of one top-down crop.

Order of a detector's pipeline (``configs/_base_/datasets/hand_boxes_*.py``)::

    LoadImage -> DetAffine -> PhotometricAug -> GenerateBoxTargets -> PackDetInputs

Results keys: ``gt_boxes`` (N, 4) ``x1, y1, x2, y2`` image px and ``gt_sides`` (N,) int
(1 left, 0 right, -1 unknown), set by the hand-box datasets. ``DetAffine`` keeps those in image
px (the metric compares there) and writes ``input_boxes`` / ``input_sides`` for the targets.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from poseforge.datasets.transforms.affine import invert_affine
from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.formatting import image_to_tensor
from poseforge.datasets.transforms.loading import get_image
from poseforge.registry import KEYPOINT_CODECS, TRANSFORMS

#: Grey of the letterbox bars (YOLO's 114): close to the data mean, so bars look like nothing.
PAD_VALUE = 114
DET_META_KEYS = ('img_path', 'img_id', 'gt_boxes', 'gt_sides', 'input_to_image', 'input_size',
                 'ori_shape')


def letterbox_matrix(image_size: Sequence[int], input_size: Sequence[int], zoom: float = 1.0,
                     shift: Sequence[float] = (0.0, 0.0), flip: bool = False) -> np.ndarray:
    """2x3 image px -> input px: fit the whole ``(w, h)`` image into ``input_size`` keeping its
    aspect ratio, centred (bars on the short side), then ``zoom`` about the centre, ``shift``
    (fractions of the input size) and an optional horizontal mirror (``x -> w - 1 - x``, as
    ``RandomFlip``). Pixel centres are integer coordinates: the image's centre pixel
    ``((w - 1) / 2, (h - 1) / 2)`` lands on the input's."""
    w, h = float(image_size[0]), float(image_size[1])
    in_w, in_h = float(input_size[0]), float(input_size[1])
    scale = min(in_w / w, in_h / h) * zoom
    sx = -scale if flip else scale
    tx = (in_w - 1) / 2 + shift[0] * in_w - sx * (w - 1) / 2
    ty = (in_h - 1) / 2 + shift[1] * in_h - scale * (h - 1) / 2
    return np.array([[sx, 0.0, tx], [0.0, scale, ty]], np.float64)


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes through a scale/translate/mirror 2x3 affine (corners, min/max)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 2, 2)
    m = np.asarray(matrix, np.float64)
    pts = boxes @ m[:, :2].T + m[:, 2]
    return np.concatenate([pts.min(1), pts.max(1)], 1).astype(np.float32)


def clip_boxes(boxes: np.ndarray, size: Sequence[int], min_visible: float = 0.4,
               min_side: float = 2.0) -> np.ndarray:
    """Indices of the boxes kept after clipping to a ``(w, h)`` canvas, and the clipped boxes.

    A box keeps when at least ``min_visible`` of its area is inside and both clipped sides are
    at least ``min_side`` px: a hand cut down to a sliver is not something to find.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    clipped = boxes.copy()
    clipped[:, 0::2] = clipped[:, 0::2].clip(0, size[0])
    clipped[:, 1::2] = clipped[:, 1::2].clip(0, size[1])
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), 1)
    sides = clipped[:, 2:] - clipped[:, :2]
    inside = np.prod(np.clip(sides, 0, None), 1)
    keep = (sides.min(1) >= min_side) & (inside >= min_visible * np.maximum(area, 1e-6))
    return np.flatnonzero(keep), clipped


@TRANSFORMS.register_module()
class DetAffine(BaseTransform):
    """Letterbox the whole image into ``input_size``, with optional random zoom, shift, flip.

    Writes ``img`` (the input, RGB uint8), ``input_to_image`` (2, 3) float32 (input px ->
    original image px, mirror included), ``input_size``, ``input_boxes`` / ``input_sides``
    (the boxes still visible, sides swapped when mirrored). ``gt_boxes`` stay in image px.

    Args:
        input_size: ``(w, h)``.
        zoom_range: random zoom about the centre, ``(low, high)``, log-uniform; ``(1, 1)`` off.
        shift: random shift, fraction of the input size per axis (uniform in +-shift).
        flip_prob: probability of a horizontal mirror (a mirrored left hand is a right hand).
    """

    def __init__(self, input_size: Sequence[int], zoom_range: Sequence[float] = (1.0, 1.0),
                 shift: float = 0.0, flip_prob: float = 0.0) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        lo, hi = (float(v) for v in zoom_range)
        if not 0 < lo <= hi:
            raise ValueError(f'DetAffine: zoom_range must be 0 < low <= high, got {zoom_range}')
        self.zoom_range = (lo, hi)
        self.shift = float(shift)
        self.flip_prob = float(flip_prob)

    def sample(self) -> tuple[float, np.ndarray, bool]:
        """Zoom, shift and flip; always the same number of draws from ``np.random``."""
        u = np.random.random(4)
        lo, hi = np.log(self.zoom_range)
        zoom = float(np.exp(lo + (hi - lo) * u[0]))
        shift = (u[1:3] * 2 - 1) * self.shift
        return zoom, shift, bool(u[3] < self.flip_prob)

    def transform(self, results: dict) -> dict:
        img = get_image(results)
        h, w = img.shape[:2]
        zoom, shift, flip = self.sample()
        matrix = letterbox_matrix((w, h), self.input_size, zoom, shift, flip)
        results['img'] = cv2.warpAffine(img, matrix, self.input_size, flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT,
                                        borderValue=(PAD_VALUE,) * 3)
        results['img_shape'] = results['img'].shape[:2]
        results['input_to_image'] = invert_affine(matrix).astype(np.float32)
        results['input_size'] = self.input_size
        boxes = np.asarray(results.get('gt_boxes', np.zeros((0, 4))), np.float32).reshape(-1, 4)
        sides = np.asarray(results.get('gt_sides', np.full(len(boxes), -1)), np.int64)
        keep, clipped = clip_boxes(transform_boxes(boxes, matrix), self.input_size)
        sides = sides[keep]
        if flip:
            sides = np.where(sides >= 0, 1 - sides, sides)
        results['input_boxes'] = clipped[keep]
        results['input_sides'] = sides
        return results


@TRANSFORMS.register_module()
class GenerateBoxTargets(BaseTransform):
    """``input_boxes`` / ``input_sides`` -> ``heatmap``, ``box_target``, ``box_weight``.

    Args:
        codec: a box codec config (``CenterBoxCodec``) or instance.
    """

    def __init__(self, codec: dict) -> None:
        self.codec = KEYPOINT_CODECS.build(codec) if isinstance(codec, dict) else codec

    def transform(self, results: dict) -> dict:
        results.update(self.codec.encode(results['input_boxes'], results['input_sides']))
        return results


@TRANSFORMS.register_module()
class PackDetInputs(BaseTransform):
    """``{'inputs': uint8 (3, H, W), 'data_samples': {targets..., 'meta': {...}}}``.

    The same layout as ``PackPoseInputs`` (``pose_collate`` stacks it), with the detector's
    targets and ``gt_boxes`` / ``gt_sides`` in image px in ``meta`` for the metric.
    """

    TARGETS = ('heatmap', 'box_target', 'box_weight')

    def __init__(self, meta_keys: Sequence[str] = DET_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        data_samples = {key: torch.from_numpy(np.ascontiguousarray(results[key]))
                        for key in self.TARGETS if results.get(key) is not None}
        data_samples['meta'] = {key: results[key] for key in self.meta_keys
                                if results.get(key) is not None}
        return dict(inputs=image_to_tensor(get_image(results)), data_samples=data_samples)


def detection_pipelines(codec: dict, zoom_range: Sequence[float] = (0.6, 1.4),
                        shift: float = 0.15, flip_prob: float = 0.5, photometric: bool = True
                        ) -> tuple[list[dict], list[dict]]:
    """``(train, test)`` pipelines of the hand detector (configs import this), for the box
    ``codec`` (``CenterBoxCodec`` dict: its ``input_size`` is the letterbox size).

    Training: load, letterbox with random zoom / shift / mirror, photometric augmentation,
    targets, packing. Test: load, plain letterbox, packing (no targets)."""
    codec = dict(codec)
    input_size = tuple(codec['input_size'])
    train = [dict(type='LoadImage'),
             dict(type='DetAffine', input_size=tuple(input_size), zoom_range=tuple(zoom_range),
                  shift=shift, flip_prob=flip_prob)]
    if photometric:
        train.append(dict(type='PhotometricAug'))
    train += [dict(type='GenerateBoxTargets', codec=codec), dict(type='PackDetInputs')]
    test = [dict(type='LoadImage'), dict(type='DetAffine', input_size=tuple(input_size)),
            dict(type='PackDetInputs')]
    return train, test
