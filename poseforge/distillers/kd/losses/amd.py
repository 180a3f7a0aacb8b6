"""AMD: angular margin-based distillation of attention maps (Jeon et al., arXiv 2302.14130).

What is transferred is where a feature map is active, not its values, so any two widths
compare without an alignment conv. For a feature map ``f`` (``B x C x H x W``):

1. attention map ``a = sum_c f_c^2``, L2-normalised over the ``H*W`` positions (per sample);
2. positive part ``p = s * cos(m * arccos(a))`` (an angular margin ``m`` on the cosine ``a``,
   SphereFace-style, scale ``s``), negative part ``n = s * (1 - a)``, and the margin
   log-likelihood ``l = p - log(exp(p) + exp(n))``;
3. for each of ``l``, ``p``, ``n``: L2-normalise over the positions, MSE (mean over batch and
   positions) between student and teacher; the term is the mean of the three.

``s = 64``, ``m = 1.35`` as published. With ``local_weight > 0`` the map is also cut in four
quadrants (rows and columns halved, of the globally normalised map) and each quadrant gets the
same three-part term; ``loss = global_weight * global + local_weight * mean(quadrants)`` with
0.8 / 0.2 (the public re-implementation jeunsom/AMD_loss ``AngularPenaltyLoss4b``). Computed
as described; ``log(exp(p) + exp(n))`` is evaluated as ``logaddexp`` (equal, without overflow
for larger ``s``).

Maps of different spatial size: the student's attention map (before normalisation) is
resized bilinearly to the teacher's. Zero when the student's features equal the teacher's (or
are any positive multiple of them: the normalisation removes scale).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from poseforge.distillers.kd.losses.base import KDContext, KDLoss
from poseforge.distillers.kd.losses.feature import resize_like
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError


def attention_map(features: Tensor, size=None, eps: float = 1e-6) -> Tensor:
    """``sum_c f^2`` ``(B, 1, H, W)``, resized to ``size`` if given, L2-normalised over space."""
    att = features.float().square().sum(dim=1, keepdim=True)
    if size is not None:
        att = resize_like(att, size)
    return att / (att.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1) + eps)


def margin_parts(att: Tensor, s: float, m: float, eps: float = 1e-7) -> list[Tensor]:
    """``[l, p, n]`` of a flattened normalised attention ``(B, N)`` (see the module docstring)."""
    pos = s * torch.cos(m * torch.acos(att.clamp(-1 + eps, 1 - eps)))
    neg = s * (1 - att)
    return [pos - torch.logaddexp(pos, neg), pos, neg]


def parts_distance(student: Tensor, teacher: Tensor, s: float, m: float) -> Tensor:
    """Mean over ``l, p, n`` of ``MSE(normalize(student part), normalize(teacher part))``."""
    terms = [F.mse_loss(F.normalize(ps, dim=1), F.normalize(pt, dim=1))
             for ps, pt in zip(margin_parts(student, s, m), margin_parts(teacher, s, m))]
    return sum(terms) / len(terms)


def quadrants(att: Tensor) -> list[Tensor]:
    """The four quadrants of ``(B, 1, H, W)`` (rows and columns split at ``H // 2``, ``W // 2``)."""
    h, w = att.shape[-2] // 2, att.shape[-1] // 2
    return [att[..., :h, :w], att[..., :h, w:], att[..., h:, :w], att[..., h:, w:]]


def amd_loss(student: Tensor, teacher: Tensor, s: float = 64.0, m: float = 1.35,
             global_weight: float = 0.8, local_weight: float = 0.2) -> Tensor:
    """AMD between two feature maps (the student's resized to the teacher's size)."""
    a_t = attention_map(teacher)
    a_s = attention_map(student, a_t.shape[-2:])
    loss = global_weight * parts_distance(a_s.flatten(1), a_t.flatten(1), s, m)
    if local_weight:
        local = [parts_distance(qs.flatten(1), qt.flatten(1), s, m)
                 for qs, qt in zip(quadrants(a_s), quadrants(a_t))]
        loss = loss + local_weight * sum(local) / len(local)
    return loss


@MODELS.register_module()
class AMDLoss(KDLoss):
    """Angular-margin attention distillation between two feature maps.

    Args:
        student / teacher: module paths of the feature maps (required).
        s / m: scale and angular margin (64, 1.35).
        global_weight / local_weight: weights of the whole-map and 4-quadrant terms (0.8, 0.2;
            ``local_weight=0`` for the global term alone).
    """

    def __init__(self, name: str = 'loss_amd', student: str | None = None,
                 teacher: str | None = None, s: float = 64.0, m: float = 1.35,
                 global_weight: float = 0.8, local_weight: float = 0.2, **kwargs) -> None:
        if student is None or teacher is None:
            raise ConfigError(f'{name}: AMDLoss needs student= and teacher= module paths')
        super().__init__(name=name, student=student, teacher=teacher, **kwargs)
        self.s, self.m = float(s), float(m)
        self.global_weight, self.local_weight = float(global_weight), float(local_weight)

    def forward(self, ctx: KDContext) -> Tensor:
        return amd_loss(self.student_value(ctx), self.teacher_value(ctx).detach(), self.s,
                        self.m, self.global_weight, self.local_weight)
