"""Heatmap KD: the student's heatmaps regress (MSE) or match in distribution (KL) the teacher's.

For heatmap models the teacher's "soft labels" are its heatmaps. Two ways to read them:

* ``mode='mse'``: ``mean_{b,k} w_bk * mean_{y,x} (S - T)^2``, the keypoint-weighted heatmap MSE
  of poseforge's ``KeypointMSELoss`` with the teacher's maps as the target (FPD, Fast Pose
  Distillation, Zhang et al. CVPR 2019: the student regresses the teacher's heatmaps as well as
  the ground truth's);
* ``mode='kl'``: per-joint spatial softmax over the ``H*W`` pixels at temperature ``tau``,
  ``mean_{b,k} w_bk * tau^2 * KL(softmax(T / tau) || softmax(S / tau))`` (Hinton et al.'s
  ``tau^2`` keeps the gradient scale independent of ``tau``).

``w_bk`` are the context's KD weights: the samples' keypoint weights (so joints outside the crop
or unlabelled teach nothing, as in the GT loss), ones in label-free mode and for mixed images,
0 for student keypoints without a teacher counterpart. Both are 0 when the student's maps
equal the teacher's.

The teacher's maps are first resampled to the student's grid and mapped to its keypoints
(:mod:`~poseforge.distillers.kd.geometry`); ``student`` / ``teacher`` paths may name other
heatmap outputs (an intermediate stage), which are resampled and mapped the same way.
"""
from __future__ import annotations

from torch import Tensor

from poseforge.distillers.kd.losses.base import KDContext, KDLoss
from poseforge.distillers.losses import spatial_softmax_kl
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError

MODES = ('mse', 'kl')


def weighted_heatmap_mse(student: Tensor, teacher: Tensor, weights: Tensor) -> Tensor:
    """``mean_{b,k} w_bk * mean_{pixels} (S - T)^2`` in float32."""
    per_joint = (student.float() - teacher.float()).square().mean(dim=(-2, -1))
    return (per_joint * weights.float()).mean()


def weighted_heatmap_kl(student: Tensor, teacher: Tensor, weights: Tensor, tau: float) -> Tensor:
    """``mean_{b,k} w_bk * tau^2 * KL(softmax(T/tau) || softmax(S/tau))`` over the pixels."""
    kl = spatial_softmax_kl(student, teacher, tau)
    return (kl * weights.float()).mean() * tau * tau


@MODELS.register_module()
class HeatmapKDLoss(KDLoss):
    """Heatmap distillation, MSE or temperature KL (see the module docstring).

    Args:
        mode: ``'mse'`` or ``'kl'``.
        tau: KL temperature (``mode='kl'``).
        name / weight / schedule / student / teacher: see :class:`KDLoss`.
    """

    def __init__(self, name: str = 'loss_hm', mode: str = 'mse', tau: float = 1.0,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if mode not in MODES:
            raise ConfigError(f"{name}: mode must be one of {MODES}, got '{mode}'")
        if tau <= 0:
            raise ConfigError(f'{name}: tau must be > 0, got {tau}')
        self.mode = mode
        self.tau = float(tau)

    def teacher_target(self, ctx: KDContext, student: Tensor) -> Tensor:
        if self.teacher_path is None:
            target = ctx.teacher_on_student
            if target.shape[-2:] == student.shape[-2:]:
                return target
            return ctx.map_keypoints(ctx.to_student_grid(ctx.teacher_heatmaps,
                                                         student.shape[-2:]))
        return ctx.map_keypoints(ctx.to_student_grid(self.teacher_value(ctx), student.shape[-2:]))

    def forward(self, ctx: KDContext) -> Tensor:
        student = self.student_value(ctx)
        target = self.teacher_target(ctx, student).detach()
        if target.shape != student.shape:
            raise ConfigError(f'{self.name}: student maps {tuple(student.shape)} and teacher maps '
                              f'{tuple(target.shape)} (after resampling) differ')
        if self.mode == 'mse':
            return weighted_heatmap_mse(student, target, ctx.kd_weights)
        return weighted_heatmap_kl(student, target, ctx.kd_weights, self.tau)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, mode={self.mode!r}, tau={self.tau:g}'
