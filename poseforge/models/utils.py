"""Small tensor helpers shared by heads and estimators: flip test, training accuracy."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def flip_heatmaps(heatmaps: Tensor, flip_indices: Sequence[int] | Tensor) -> Tensor:
    """Map heatmaps predicted on a horizontally flipped input back to the original frame.

    Reverses the x axis and reorders channels so that channel ``i`` holds keypoint ``i``:
    the flipped image shows keypoint ``flip_indices[i]`` where the original shows ``i``.
    This is mmpose's ``flip_heatmaps(flip_mode='heatmap', shift_heatmap=False)``: no one-cell
    shift, so a cell ``x`` maps to ``w - 1 - x`` (exact for heatmap cells whose centres are
    symmetric about the crop's centre; the codec's half-pixel convention decides the rest).

    Args:
        heatmaps: ``(B, K, h, w)``.
        flip_indices: length-K permutation (``Skeleton.flip_indices``).
    """
    index = torch.as_tensor(flip_indices, dtype=torch.long, device=heatmaps.device)
    if index.numel() != heatmaps.shape[1]:
        raise ValueError(f'flip_indices has {index.numel()} entries for '
                         f'{heatmaps.shape[1]} heatmap channels')
    return heatmaps.index_select(1, index).flip(-1)


def heatmap_argmax(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """Integer ``(x, y)`` cell of each map's maximum ``(B, K, 2)`` float, and the maximum."""
    b, k, _, w = heatmaps.shape
    values, flat = heatmaps.flatten(2).max(dim=2)
    xy = torch.stack([flat % w, torch.div(flat, w, rounding_mode='floor')], dim=-1)
    return xy.float().reshape(b, k, 2), values


@torch.no_grad()
def heatmap_pck_accuracy(pred: Tensor, target: Tensor, keypoint_weights: Tensor | None = None,
                         thr: float = 0.05) -> Tensor:
    """Training-time PCK of argmax locations, mmpose's ``pose_pck_accuracy`` in torch.

    A keypoint is correct when ``||(argmax(pred) - argmax(target)) / (w, h)|| < thr``; the
    accuracy is averaged over the keypoints that have at least one valid instance (weight > 0)
    in the batch, each keypoint's own accuracy first (as mmpose does). Returns a 0-d float
    tensor on the heatmaps' device (mmengine logs every returned tensor); 0 when nothing is
    valid. Only for monitoring, never differentiated.
    """
    b, k, h, w = pred.shape
    pred_xy, _ = heatmap_argmax(pred.float())
    gt_xy, _ = heatmap_argmax(target.float())
    norm = torch.tensor([w, h], dtype=torch.float32, device=pred.device)
    distances = ((pred_xy - gt_xy) / norm).norm(dim=-1)  # (B, K)
    valid = (torch.ones_like(distances, dtype=torch.bool) if keypoint_weights is None
             else keypoint_weights.reshape(b, k) > 0)
    correct = ((distances < thr) & valid).float().sum(dim=0)
    counts = valid.float().sum(dim=0)
    has_valid = (counts > 0).float()
    per_keypoint = correct / counts.clamp(min=1)
    # mean over keypoints with a valid instance, without a host sync (0 when none is valid)
    return (per_keypoint * has_valid).sum() / has_valid.sum().clamp(min=1)
