"""Nasty teacher: a pose model trained to predict well but to distil badly (arXiv 2105.07381).

Self-undermining training (Ma et al., ICLR 2021; VITA-Group/Nasty-Teacher ``train_nasty.py``)
trains the model to be released (here the distiller's ``student`` attribute: the *nasty teacher
to be*) on its ground truth while pushing its soft outputs away from those of a frozen, normally
trained copy of the task (``teacher``)::

    L = L_gt(N(x)) - w * tau^2 * KL(softmax(T(x) / tau) || softmax(N(x) / tau))

For heatmap models the logits are the per-joint heatmaps, so the KL is the per-joint spatial-
softmax KL over the ``H*W`` pixels (:func:`~poseforge.distillers.losses.spatial_softmax_kl`),
weighted by the keypoint weights and averaged over ``(B, K)`` (the same normalisation as the
heatmap KD loss a student is later distilled with), and ``L_gt`` is the estimator's own heatmap
loss (``CE -> heatmap MSE``, docs/methods.md).

Temperature and weight, adapted to heatmaps. The paper's CIFAR settings (tau 4 or 20, w 0.004-
0.04) are for classification logits spanning about 10-20 units; MSRA heatmaps span 0..1, so the
same ``tau`` would make every spatial softmax flat and the KL vanish. ``tau = 0.1`` puts a
heatmap's 0..1 range at 10 units of softmax logit, the range the paper's ``logit / tau`` has.
``w = 0.04``: maximising the KL is unbounded and only the GT heatmap MSE bounds it. A bump of
height ``h`` above the map's own peak (height ~1) gains about ``w tau (h - 1)`` of weighted KL
(the KL grows like ``h / tau`` once the bump dominates the softmax) and costs ``h^2 / (H W)`` of
MSE, so bumps that take over the argmax pay only while ``w tau H W / 2 > h``: ``w = 0.04`` keeps
that bound at 0.5 on 16x16 maps, below the peak, so the nasty model must keep its own argmax
and can only reshape its maps around it. ``w = 1`` (tried first: bound ~13) ran away: the GT
loss rose twentyfold within one epoch. Chosen from this balance, not tuned to a result.

The nasty teacher leaves as a plain estimator checkpoint (:meth:`export_student`,
``tools/export_student.py``): ``tools/eval.py``, ``init_model`` and a KD config load it like any
model. ``predict_with='teacher'`` evaluates the frozen normal teacher through the same crops.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from poseforge.distillers.base import BaseDistiller
from poseforge.distillers.kd.losses.heatmap import weighted_heatmap_kl
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError


def self_undermining_kl(nasty: Tensor, normal: Tensor, weights: Tensor, tau: float) -> Tensor:
    """``mean_{b,k} w_bk * tau^2 * KL(softmax(normal / tau) || softmax(nasty / tau))``.

    The term the nasty teacher *maximises* (its loss subtracts ``w`` times it). ``normal`` is
    detached: only the nasty model moves.
    """
    return weighted_heatmap_kl(nasty, normal.detach(), weights, tau)


def final_heatmaps(estimator, backbone_output) -> Tensor:
    """The estimator's last-stage heatmaps from its backbone's output (``head.predict``)."""
    return estimator.head.predict(backbone_output)


@MODELS.register_module()
class NastyTeacherDistiller(BaseDistiller):
    """Trains ``student`` (the nasty teacher to be) against a frozen normal ``teacher``.

    Args:
        student: model dict or config file of the model to train (the nasty teacher).
        teacher: the normal teacher's model dict or config file (same input crop and heatmap
            grid as ``student``: the KL compares the two maps pixel by pixel).
        teacher_checkpoint: the normal teacher's weights.
        tau: spatial-softmax temperature (see the module docstring).
        weight: ``w``, the weight of the subtracted KL.
        predict_with: ``'student'`` (the nasty model) or ``'teacher'``.
    """

    def __init__(self, student: dict | str, teacher: dict | str,
                 teacher_checkpoint: str | None = None, tau: float = 0.1, weight: float = 0.04,
                 predict_with: str = 'student', init_cfg: dict | None = None) -> None:
        super().__init__(predict_with=predict_with, init_cfg=init_cfg)
        if tau <= 0:
            raise ConfigError(f'NastyTeacherDistiller: tau must be > 0, got {tau}')
        self.student = self.build_student(student)
        self.add_frozen_teacher('teacher', teacher, teacher_checkpoint)
        self.tau = float(tau)
        self.weight = float(weight)
        self.record(['student.backbone'])

    def normal_heatmaps(self, inputs: Tensor) -> Tensor:
        """The frozen normal teacher's final heatmaps (no gradient)."""
        with torch.no_grad():
            return final_heatmaps(self.teacher, self.teacher(inputs, mode='tensor')).detach()

    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """``loss_kpt`` (the GT loss), ``loss_nasty`` (``-w * tau^2 * KL``, optimised), and
        logged ``kd_nasty`` (the KL term, unweighted: it should grow)."""
        with self.recorder.recording():
            losses = dict(self.student(inputs, data_samples, mode='loss'))
            nasty = final_heatmaps(self.student, self.recorder['student.backbone'])
        normal = self.normal_heatmaps(inputs)
        if normal.shape != nasty.shape:
            raise ConfigError(f'NastyTeacherDistiller: the normal teacher predicts maps of shape '
                              f'{tuple(normal.shape)}, the nasty model {tuple(nasty.shape)}; '
                              'both must see the same crop and share the heatmap grid')
        weights = data_samples['keypoint_weights'].float().reshape(nasty.shape[:2])
        kl = self_undermining_kl(nasty, normal, weights, self.tau)
        losses['loss_nasty'] = -self.weight * kl
        losses['kd_nasty'] = kl.detach()
        return losses
