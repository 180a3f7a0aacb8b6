"""Mixup KD (MIX-KD, arXiv 2211.03946): distil on mixed images, the teacher's maps as their target.

A fraction ``ratio`` of each batch is replaced by mixes ``x' = lam * x_i + (1 - lam) * x_j``
of two images of the batch (``j`` a random other sample, ``lam ~ Beta(alpha, alpha)`` per
sample); the teacher runs on the same mixed images, so every KD loss of the distiller (heatmaps,
features, attention) compares student and teacher on inputs outside the training
distribution, where their disagreement is most informative (the paper's argument; its code is
not released).

The ground truth cannot be mixed for heatmaps: a blend of two hands' Gaussians is not the
heatmap of the blended image (it has two ghost hands, each keypoint twice), so the GT loss is
**not computed for mixed samples**: their keypoint weights are set to 0 in the GT loss, and
those of the unmixed samples are scaled by ``B / n_unmixed`` so that the GT loss keeps the
scale of a full batch. For mixed samples the KD weights are 1 for every keypoint (the teacher's
maps over the whole mixed image are the target, visible or not), times the keypoint map's mask.
Unmixed samples keep their keypoint weights in both.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError


class MixedBatch(NamedTuple):
    """Result of :meth:`MixupKD.mix`.

    Attributes:
        inputs: ``(B, 3, H, W)`` with the mixed rows replaced.
        mixed: ``(B,)`` bool, which rows are mixes.
        partner: ``(B,)`` long, the other image of each row (itself for unmixed rows).
        lam: ``(B,)`` float, the weight of the row's own image (1 for unmixed rows).
    """

    inputs: Tensor
    mixed: Tensor
    partner: Tensor
    lam: Tensor


@MODELS.register_module()
class MixupKD:
    """Batch mixing for distillation (see the module docstring).

    Args:
        alpha: Beta(alpha, alpha) of the mixing weight (1: uniform).
        ratio: fraction of each batch that is mixed (rounded; at least one sample stays
            unmixed when the distiller uses labels).
    """

    def __init__(self, alpha: float = 1.0, ratio: float = 0.5) -> None:
        if alpha <= 0:
            raise ConfigError(f'MixupKD alpha must be > 0, got {alpha}')
        if not 0.0 < ratio <= 1.0:
            raise ConfigError(f'MixupKD ratio must be in (0, 1], got {ratio}')
        self.alpha = float(alpha)
        self.ratio = float(ratio)

    def num_mixed(self, batch: int, keep_one: bool) -> int:
        n = int(round(self.ratio * batch))
        return max(0, min(n, batch - 1 if keep_one else batch))

    def mix(self, inputs: Tensor, keep_one: bool = True) -> MixedBatch:
        """Mix ``ratio`` of the rows (random rows, random partners, Beta weights)."""
        b = inputs.shape[0]
        device = inputs.device
        n = self.num_mixed(b, keep_one)
        mixed = torch.zeros(b, dtype=torch.bool, device=device)
        partner = torch.arange(b, device=device)
        lam = torch.ones(b, dtype=inputs.dtype, device=device)
        if n == 0 or b < 2:
            return MixedBatch(inputs, mixed, partner, lam)
        rows = torch.randperm(b)[:n].to(device)
        # a partner other than the row itself: shift by 1 .. b-1
        partner[rows] = (rows + torch.randint(1, b, (n,)).to(device)) % b
        beta = torch.distributions.Beta(self.alpha, self.alpha)
        lam[rows] = beta.sample((n,)).to(device=device, dtype=inputs.dtype)
        mixed[rows] = True
        w = lam.reshape(-1, 1, 1, 1)
        out = w * inputs + (1 - w) * inputs[partner]
        return MixedBatch(out, mixed, partner, lam)

    @staticmethod
    def gt_weights(weights: Tensor, mixed: Tensor) -> Tensor:
        """GT keypoint weights: 0 on mixed rows, the others scaled by ``B / n_unmixed``."""
        keep = (~mixed).to(weights.dtype)
        n_keep = keep.sum().clamp(min=1)
        return weights * (keep * mixed.numel() / n_keep).reshape(-1, *([1] * (weights.dim() - 1)))

    @staticmethod
    def kd_weights(weights: Tensor, mixed: Tensor) -> Tensor:
        """KD keypoint weights: 1 on mixed rows, the samples' own weights elsewhere."""
        return torch.where(mixed.reshape(-1, *([1] * (weights.dim() - 1))),
                           torch.ones_like(weights), weights)

    def __repr__(self) -> str:
        return f'MixupKD(alpha={self.alpha:g}, ratio={self.ratio:g})'
