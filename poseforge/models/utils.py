"""Small tensor helpers shared by heads and estimators: flip test, arg-max, training accuracy."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def flip_heatmaps(heatmaps: Tensor, flip_indices: Sequence[int] | Tensor,
                  shift: float = 0.0) -> Tensor:
    """Map heatmaps predicted on a horizontally flipped input back to the original frame.

    Reverses the x axis and reorders channels so that channel ``i`` holds keypoint ``i``:
    the flipped image shows keypoint ``flip_indices[i]`` where the original shows ``i``.
    Mirroring alone sends cell ``c`` to ``w - 1 - c``, which is exact only if heatmap cells
    are symmetric about the input's centre. Under poseforge's codec convention (input px ``p``
    sits at cell ``p * w / W``, :class:`~poseforge.codecs.MSRAHeatmap`, mmpose's
    ``MSRAHeatmap``) the mirrored input's pixel ``W - 1 - p`` lands at cell
    ``w - w / W - c``, i.e. the mirrored maps must also move right by ``shift = 1 - w / W``
    cells (3/4 of a cell at stride 4, 7/8 at stride 8; mmpose's ``shift_heatmap=True``
    rounds this to one cell). ``shift`` is applied by linear interpolation between
    neighbouring columns (the first column repeats at the border): exact for the peak of a
    locally linear map, close for a Gaussian. Keypoints are therefore not decoded from these
    maps; see :func:`flip_keypoints` (used by ``TopdownPoseEstimator``), which is exact.

    Args:
        heatmaps: ``(B, K, h, w)``.
        flip_indices: length-K permutation (``Skeleton.flip_indices``).
        shift: sub-cell shift to the right after mirroring, in ``[0, 1]``; 0 = plain mirror
            (mmpose's ``shift_heatmap=False``).
    """
    index = _flip_index(flip_indices, heatmaps.shape[1], heatmaps.device)
    mirrored = heatmaps.index_select(1, index).flip(-1)
    if not 0.0 <= shift <= 1.0:
        raise ValueError(f'flip_heatmaps: shift must be in [0, 1] cells, got {shift}')
    if shift == 0.0:
        return mirrored
    left = torch.cat([mirrored[..., :1], mirrored[..., :-1]], dim=-1)  # column c - 1
    return torch.lerp(mirrored, left, shift)


def _flip_index(flip_indices: Sequence[int] | Tensor, num_keypoints: int,
                device: torch.device) -> Tensor:
    index = torch.as_tensor(flip_indices, dtype=torch.long, device=device)
    if index.numel() != num_keypoints:
        raise ValueError(f'flip_indices has {index.numel()} entries for {num_keypoints} '
                         f'keypoints')
    return index


def flip_keypoints(keypoints: Tensor, flip_indices: Sequence[int] | Tensor,
                   input_width: int) -> Tensor:
    """Keypoints decoded on a horizontally flipped input, in the original input's frame.

    Pixel column ``x`` of a ``W``-wide input is column ``W - 1 - x`` of its mirror
    (``Tensor.flip(-1)``), with pixel centres at integer coordinates as the affine crop and
    the codec place them; keypoint ``i`` of the original is keypoint ``flip_indices[i]`` of
    the mirror. Exact whatever the codec or stride: the codec only ever decodes maps of the
    input it was trained on.

    Args:
        keypoints: ``(B, K, 2)`` in input px of the mirrored input.
        flip_indices: length-K permutation.
        input_width: ``W``, the network input's width in px.
    """
    index = _flip_index(flip_indices, keypoints.shape[1], keypoints.device)
    flipped = keypoints.index_select(1, index).clone()
    flipped[..., 0] = (input_width - 1) - flipped[..., 0]
    return flipped


def average_flip_predictions(keypoints: Tensor, scores: Tensor, flipped_keypoints: Tensor,
                             flipped_scores: Tensor) -> tuple[Tensor, Tensor]:
    """Flip test in coordinates: mean of the plain and the mapped-back mirrored predictions.

    Each side counts only where its score is positive (a codec marks a map without a
    positive maximum as undecodable); where neither is, the plain keypoint (the codec's
    marker) is kept. Scores are the plain mean of both. All ``(B, K, 2)`` / ``(B, K)``.
    """
    valid = (scores > 0).to(keypoints.dtype)[..., None]
    valid_flipped = (flipped_scores > 0).to(keypoints.dtype)[..., None]
    count = valid + valid_flipped
    mean = (valid * keypoints + valid_flipped * flipped_keypoints) / count.clamp_min(1)
    merged = torch.where(count > 0, mean, keypoints)
    return merged, 0.5 * (scores + flipped_scores)


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
