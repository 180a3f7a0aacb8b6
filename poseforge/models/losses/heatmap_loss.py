"""Heatmap regression losses."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from poseforge.registry import MODELS


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """Mean squared error between predicted and target heatmaps, weighted per keypoint.

    ``loss = loss_weight * mean_k [ sum_{b,y,x} w_bk (pred - target)^2 / (B * H * W) ]``

    i.e. for each keypoint the NSRM/CPM normalisation (``sum / (B * 46 * 46)``, ``src/loss.py``
    of HowieMa/NSRMhand), then the mean over the K keypoints, which is the plain mean over all
    ``B*K*H*W`` elements (mmpose's ``KeypointMSELoss``). The original sums over keypoints
    instead of averaging, so its value is K times this one: ``loss_weight=K`` reproduces its
    scale (for Adam only the scale of the gradients' noise floor differs, not the direction).

    The weight multiplies the squared error (mmpose 1.x semantics, linear in ``w``); a keypoint
    with ``w = 0`` (not visible / outside the crop) contributes nothing but still counts in the
    mean, as in mmpose. Computed in float32 whatever the input dtype, so bf16/fp16 autocast
    outputs do not lose the small differences of near-converged heatmaps.

    Args:
        use_target_weight: multiply by ``keypoint_weights``; otherwise every keypoint weighs 1.
        loss_weight: scale of the returned loss.
    """

    def __init__(self, use_target_weight: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor,
                keypoint_weights: Tensor | None = None) -> Tensor:
        """``pred``/``target`` ``(B, K, H, W)``, ``keypoint_weights`` ``(B, K)`` -> scalar."""
        if pred.shape != target.shape:
            raise ValueError(f'heatmap shapes differ: pred {tuple(pred.shape)} vs target '
                             f'{tuple(target.shape)}')
        squared = (pred.float() - target.float()).square()
        per_keypoint = squared.mean(dim=(-2, -1))  # (B, K): sum over pixels / (H * W)
        if self.use_target_weight and keypoint_weights is not None:
            per_keypoint = per_keypoint * keypoint_weights.float().reshape(per_keypoint.shape)
        # sum over the batch / B, then the mean over keypoints == mean over (B, K)
        return per_keypoint.mean() * self.loss_weight
