"""Heatmap regression losses."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from poseforge.registry import MODELS


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """Squared error between predicted and target heatmaps, weighted per keypoint.

    For each keypoint ``k``: ``L_k = sum_{b,y,x} w_bk (pred - target)^2 / (B * H * W)``, then

    * ``keypoint_reduction='sum'``: ``loss = loss_weight * sum_k L_k``, the CPM / NSRM papers'
      loss (``sum / (B * 46 * 46)`` over all 21 maps, ``src/loss.py`` of HowieMa/NSRMhand;
      ``docs/methods.md``: "MSE (sum / (B*46*46)) per stage"). The poseforge hand configs use
      it, so CPM and NSRM train under one objective whatever the keypoint count;
    * ``keypoint_reduction='mean'`` (default): ``loss = loss_weight * mean_k L_k``, the plain
      mean over all ``B*K*H*W`` elements (mmpose's ``KeypointMSELoss``), K times smaller.

    With Adam the two differ only against its epsilon (the update is nearly scale-invariant);
    the scale matters where this loss is added to other terms (NSRM's limb BCE, R-MGMN's
    marginal, kernel and rotation losses), whose published weights assume the sum.

    The weight multiplies the squared error (mmpose 1.x semantics, linear in ``w``); a keypoint
    with ``w = 0`` (not visible / outside the crop) contributes nothing but still counts in the
    mean, as in mmpose. Computed in float32 whatever the input dtype, so bf16/fp16 autocast
    outputs do not lose the small differences of near-converged heatmaps.

    Args:
        use_target_weight: multiply by ``keypoint_weights``; otherwise every keypoint weighs 1.
        loss_weight: scale of the returned loss.
        keypoint_reduction: ``'sum'`` or ``'mean'`` over keypoints (above).
    """

    def __init__(self, use_target_weight: bool = True, loss_weight: float = 1.0,
                 keypoint_reduction: str = 'mean') -> None:
        super().__init__()
        if keypoint_reduction not in ('mean', 'sum'):
            raise ValueError(f"KeypointMSELoss: keypoint_reduction must be 'mean' or 'sum', "
                             f'got {keypoint_reduction!r}')
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.keypoint_reduction = keypoint_reduction

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
        per_keypoint = per_keypoint.mean(dim=0)  # (K,): sum over the batch / B
        total = per_keypoint.sum() if self.keypoint_reduction == 'sum' else per_keypoint.mean()
        return total * self.loss_weight
