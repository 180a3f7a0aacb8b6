"""Distillation terms on heatmaps, and the consistency ramp-up.

For heatmap pose models the "logits" of classification KD are the per-joint heatmaps: a
softmax over the H*W pixels of one joint's map turns it into a distribution over locations,
and KL divergence compares two such distributions joint by joint.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F


def spatial_softmax_kl(pred: Tensor, target: Tensor, tau: float = 1.0) -> Tensor:
    """Per-joint ``KL(softmax(target / tau) || softmax(pred / tau))`` over the pixels.

    Args:
        pred / target: ``(B, K, H, W)`` heatmaps (the student's, the teacher's).
        tau: temperature (both maps divided by it; no ``tau^2`` factor here: callers that
            want Hinton's gradient scale multiply by it).
    Returns:
        ``(B, K)`` float32 KL values (nats), each a sum over the H*W pixels.
    """
    if pred.shape != target.shape:
        raise ValueError(f'heatmap shapes differ: pred {tuple(pred.shape)} vs target '
                         f'{tuple(target.shape)}')
    log_p = F.log_softmax(pred.float().flatten(2) / tau, dim=-1)
    log_q = F.log_softmax(target.float().flatten(2) / tau, dim=-1)
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def joints_kl_loss(pred: Tensor, target: Tensor, keypoint_weights: Tensor | None = None
                   ) -> Tensor:
    """OKDHP's ``JointsKLDLoss`` (zhengli97/OKDHP ``lib/core/loss.py``): the keypoint weight
    multiplies both maps before the spatial softmax (a joint with weight 0 compares two uniform
    distributions, KL 0), then ``sum over (B, K) of the per-joint KL / (B * H * W)``.

    Args:
        pred: ``(B, K, H, W)`` the branch's maps (the log-softmax side).
        target: ``(B, K, H, W)`` the ensemble's maps (the softmax side).
        keypoint_weights: ``(B, K)``; ``None`` = all 1.
    """
    b, k, h, w = pred.shape
    if keypoint_weights is not None:
        weights = keypoint_weights.float().reshape(b, k, 1, 1)
        pred, target = pred.float() * weights, target.float() * weights
    return spatial_softmax_kl(pred, target).sum() / (b * h * w)


def sigmoid_rampup(epoch: float, length: float) -> float:
    """``exp(-5 (1 - min(t, L) / L)^2)`` (Laine & Aila, arXiv 1610.02242; OKDHP's
    ``get_current_consistency_weight``): ~0.0067 at 0, 0.287 at L/2, 1 from L on; 1 when
    ``L = 0``."""
    if length <= 0:
        return 1.0
    phase = 1.0 - min(max(float(epoch), 0.0), float(length)) / float(length)
    return math.exp(-5.0 * phase * phase)


def as_float_tensor(value: float, like: Tensor) -> Tensor:
    """A 0-d float32 tensor on ``like``'s device (mmengine logs tensors)."""
    return torch.tensor(float(value), dtype=torch.float32, device=like.device)
