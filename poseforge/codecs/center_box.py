"""Box targets and box decoding for the centre-point hand detector (``CenterHandDetector``).

An object is its box centre (CenterNet, Zhou et al. 2019, "Objects as Points", sec. 3): a
Gaussian peak on a heatmap at stride ``stride``, and at the peak's cell the box size and the
offset from that cell to the box centre. Hand detection here uses:

* an elliptical Gaussian whose standard deviations follow the box's width and height
  (TTFNet, Liu et al. 2020, sec. 3.2: ``sigma = alpha * size / 6`` with ``alpha = 0.54``),
  instead of CenterNet's one radius from a corner-overlap bound: long thin boxes (a hand seen
  edge-on) get peaks of their shape;
* the size as ``log(w / stride), log(h / stride)`` (FCOS-style scale-free regression; hands span
  20-400 px in a 640x480 frame, and an L1 on raw pixels would be dominated by the large ones);
* size, offset and side regressed at every cell of a region around the centre, weighted by the
  Gaussian (TTFNet, sec. 3.3), not at the centre cell alone: whichever cell of the region the
  predicted peak lands on decodes the same box;
* a hand-side logit (``1`` = left, ``0`` = right), trained only where the side is known
  (``-1`` = unknown, e.g. OneHand10K).

Everything is vectorised: encoding over all boxes of an image at once (numpy), decoding over a
batch (torch): sigmoid, 3x3 max-pool peak picking (CenterNet's NMS replacement), top-k, then a
small greedy IoU suppression of what peak picking leaves (two peaks on one long hand).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from poseforge.registry import KEYPOINT_CODECS

LEFT, RIGHT, UNKNOWN_SIDE = 1, 0, -1


def side_code(side: str | None) -> int:
    """``'left'`` -> 1, ``'right'`` -> 0, anything else (missing) -> -1 (unknown)."""
    side = str(side or '').lower()
    return LEFT if side in ('left', 'l') else RIGHT if side in ('right', 'r') else UNKNOWN_SIDE


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(N, M)`` of ``x1, y1, x2, y2`` boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first (N is at most top-k)."""
    order = np.argsort(-np.asarray(scores), kind='stable')
    if len(order) == 0:
        return order
    iou = box_iou(boxes[order], boxes[order])
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1:] &= iou[i, i + 1:] <= iou_thr
    return order[keep]


@KEYPOINT_CODECS.register_module()
class CenterBoxCodec:
    """Boxes (input px) <-> centre heatmap, log-size, offset and side maps (module docstring).

    Args:
        input_size: network input ``(w, h)``.
        stride: output stride (input px per heatmap cell).
        alpha: TTFNet's Gaussian size factor.
        min_sigma: lower bound of the Gaussian's sigma in cells (tiny boxes still get a peak).
        region_thr: the Gaussian's value above which a cell regresses the box (``encode``).
        region: ``'gaussian'`` (the region of ``encode``) or ``'centre'`` (the centre cell
            alone, CenterNet's targets; kept for comparison).
    """

    def __init__(self, input_size: Sequence[int], stride: int = 8, alpha: float = 0.54,
                 min_sigma: float = 0.5, region_thr: float = 0.3, region: str = 'gaussian'
                 ) -> None:
        if region not in ('gaussian', 'centre'):
            raise ValueError(f"CenterBoxCodec: region must be 'gaussian' or 'centre', got "
                             f'{region!r}')
        w, h = (int(v) for v in input_size)
        if w % stride or h % stride:
            raise ValueError(f'CenterBoxCodec: input_size {input_size} must be a multiple of '
                             f'the stride {stride}')
        self.input_size = (w, h)
        self.stride = int(stride)
        self.output_size = (w // stride, h // stride)
        self.alpha = float(alpha)
        self.min_sigma = float(min_sigma)
        self.region_thr = float(region_thr)
        self.region = region

    # ------------------------------------------------------------------ encode
    def encode(self, boxes: np.ndarray, sides: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Targets for the boxes of one image (``x1, y1, x2, y2`` input px).

        Returns ``heatmap`` (1, H, W) (max of the boxes' Gaussians, exactly 1 at each centre
        cell), ``box_target`` (5, H, W): log-w, log-h, offset-x, offset-y (from the cell to the
        box centre, in cells), side (-1 unknown), and ``box_weight`` (1, H, W): the Gaussian's
        value on each box's regression region, 0 elsewhere (1 at the centre cells).

        The regression region is every cell where the box's Gaussian is at least
        ``region_thr``, and at least the 3x3 cells around the centre cell (TTFNet, sec. 3.3,
        regresses the box at all cells of its Gaussian's central area, weighted by the
        Gaussian). Supervising the centre cell alone (CenterNet) leaves the size and offset of
        its neighbours untrained, and a predicted peak one cell off -- common for hands that
        span a few cells -- then decodes a box shifted by up to a stride. Where two regions
        overlap the smaller box wins, as it is the harder one to find.
        """
        W, H = self.output_size
        heatmap = np.zeros((1, H, W), np.float32)
        target = np.zeros((5, H, W), np.float32)
        target[4] = UNKNOWN_SIDE
        weight = np.zeros((1, H, W), np.float32)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        sides = (np.full(len(boxes), UNKNOWN_SIDE) if sides is None
                 else np.asarray(sides).reshape(-1))
        size = boxes[:, 2:] - boxes[:, :2]
        centre = (boxes[:, :2] + boxes[:, 2:]) * 0.5 / self.stride      # cells
        cell = np.floor(centre).astype(np.int64)
        # A box of at most 1 px, or whose centre is off the input, has no peak to find.
        valid = ((size > 1).all(1) & (cell[:, 0] >= 0) & (cell[:, 0] < W)
                 & (cell[:, 1] >= 0) & (cell[:, 1] < H))
        if not valid.any():
            return dict(heatmap=heatmap, box_target=target, box_weight=weight)
        size, centre, cell, sides = size[valid], centre[valid], cell[valid], sides[valid]
        sigma = np.maximum(self.alpha * size / self.stride / 6.0, self.min_sigma)   # (N, 2)
        xs = np.arange(W, dtype=np.float32)
        ys = np.arange(H, dtype=np.float32)
        # Gaussians centred on the centre *cell*, so each peaks at exactly 1 there.
        gx = np.exp(-(xs[None] - cell[:, :1]) ** 2 / (2 * sigma[:, :1] ** 2))
        gy = np.exp(-(ys[None] - cell[:, 1:]) ** 2 / (2 * sigma[:, 1:] ** 2))
        gauss = gy[:, :, None] * gx[:, None, :]                                # (N, H, W)
        heatmap[0] = gauss.max(0)
        near_x = np.abs(xs[None] - cell[:, :1]) <= 1
        near_y = np.abs(ys[None] - cell[:, 1:]) <= 1
        region = (gauss >= self.region_thr) | (near_y[:, :, None] & near_x[:, None, :])
        if self.region == 'centre':
            region = gauss >= 1.0
        # Each cell regresses the smallest box whose region holds it.
        area = np.where(region, (size[:, 0] * size[:, 1])[:, None, None], np.inf)
        owner = area.argmin(0)                                                 # (H, W)
        y, x = np.nonzero(np.isfinite(area.min(0)))
        k = owner[y, x]
        target[0, y, x] = np.log(size[k, 0] / self.stride)
        target[1, y, x] = np.log(size[k, 1] / self.stride)
        target[2, y, x] = centre[k, 0] - x
        target[3, y, x] = centre[k, 1] - y
        target[4, y, x] = sides[k]
        weight[0, y, x] = gauss[k, y, x]
        return dict(heatmap=heatmap, box_target=target, box_weight=weight)

    # ------------------------------------------------------------------ decode
    @torch.no_grad()
    def batch_decode(self, heatmap_logits: torch.Tensor, box_maps: torch.Tensor,
                     max_det: int = 10, score_thr: float = 0.3, iou_thr: float = 0.5
                     ) -> list[dict[str, np.ndarray]]:
        """Network outputs -> per image ``boxes`` (N, 4) input px, ``scores``, ``left_prob``.

        Args:
            heatmap_logits: ``(B, 1, H, W)`` centre logits.
            box_maps: ``(B, 5, H, W)``: log-w, log-h, offset-x, offset-y, side logit.
            max_det: peaks considered per image (top-k).
            score_thr: minimum centre score.
            iou_thr: greedy suppression of overlapping decoded boxes (<= 0 disables it).
        """
        scores = heatmap_logits.float().sigmoid()
        peaks = scores == F.max_pool2d(scores, 3, stride=1, padding=1)
        scores = torch.where(peaks, scores, torch.zeros_like(scores))
        B, _, H, W = scores.shape
        k = min(max_det, H * W)
        top, index = scores.reshape(B, -1).topk(k, dim=1)
        maps = box_maps.float().reshape(B, 5, -1)
        picked = maps.gather(2, index[:, None, :].expand(B, 5, k))      # (B, 5, k)
        xs = (index % W).float() + picked[:, 2]
        ys = torch.div(index, W, rounding_mode='floor').float() + picked[:, 3]
        half_w = picked[:, 0].clamp(max=10).exp() * 0.5
        half_h = picked[:, 1].clamp(max=10).exp() * 0.5
        boxes = torch.stack([xs - half_w, ys - half_h, xs + half_w, ys + half_h], -1)
        boxes = (boxes * self.stride).cpu().numpy()
        top = top.cpu().numpy()
        left = picked[:, 4].sigmoid().cpu().numpy()
        results = []
        for b in range(B):
            keep = np.flatnonzero(top[b] >= score_thr)
            if iou_thr > 0 and len(keep) > 1:
                keep = keep[greedy_nms(boxes[b, keep], top[b, keep], iou_thr)]
            results.append(dict(boxes=boxes[b, keep].astype(np.float32),
                                scores=top[b, keep].astype(np.float32),
                                left_prob=left[b, keep].astype(np.float32)))
        return results
