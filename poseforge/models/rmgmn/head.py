"""Losses and prediction for :class:`~poseforge.models.rmgmn.backbone.RMGMN`'s output dict.

Four terms, each with its own weight so that the staged training of AGMN is a matter of config
(a weight of 0 drops the term; terms whose outputs are absent are skipped):

* ``loss_unary``: the unary maps of every stage against the Gaussian heatmaps, summed over
  stages (CPM intermediate supervision, :class:`MultiStageHeatmapHead`'s loss); the configs'
  MSE is AGMN's (``nn.MSELoss``: the mean over keypoints and cells, ``KeypointMSELoss()``), so
  the kernel and rotation terms keep their scale relative to it;
* ``loss_marginal``: the mixed BP marginals against the *normalised* heatmaps (each map divided
  by its sum, as AGMN's ``normalized_heatmap``), with the same MSE. A sigma-1-cell target sums
  to ``2 pi``, so this term is ``(2 pi)^2 ~ 39.5`` times smaller than the unary one for the
  same relative error: the configs weigh it by that (``marginal_scale`` in
  ``configs/_base_/models/rmgmn_hand21.py``), as AGMN scales its terms;
* ``loss_kernel``: every pairwise stage's raw kernels against AGMN's pretraining targets: for
  edge ``s -> r``, a Gaussian (peak 1) at the kernel centre shifted by the ground-truth offset
  ``p_r - p_s`` in heatmap cells, turned into the upright frame by the angle the model used.
  With the convention of :mod:`poseforge.models.spatial_graph` (``K[c + d]``:
  ``r`` is ``d`` cells from ``s``) this is ``c + R(-angle) (p_r - p_s)``; AGMN, whose
  convolution is not flipped, draws the same Gaussian at ``c - d``. Pool member ``m`` gets
  width ``kernel_sigmas[m]`` (how the pool's members differ is not published: tight and loose
  spatial priors is our choice). Edges with an unlabelled end are left out;
* ``loss_rotation``: ``1 - cos(predicted - true angle)`` (``= |u - v|^2 / 2`` for the unit
  vectors), the true angle from the ground-truth keypoints (``hand_angle``).

Ground-truth keypoints (kernel targets, true angle) are the batch's exact ones
(:func:`~poseforge.models.ground_truth.batch_keypoints`: ``meta['transformed_keypoints']`` in
heatmap cells, ``meta['keypoints_visible']``), which the estimator passes to the head; a joint
outside the crop keeps its exact offset (its kernel target may then lie beyond the kernel).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from poseforge.models.ground_truth import batch_keypoints
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead
from poseforge.models.rmgmn.geometry import DEFAULT_ANGLE_JOINTS, hand_angle, rotation_matrices
from poseforge.models.spatial_graph import directed_edges
from poseforge.models.utils import heatmap_pck_accuracy
from poseforge.registry import MODELS
from poseforge.skeletons import get_skeleton

_PREDICT_FROM = ('auto', 'marginals', 'unary')


def kernel_targets(keypoints: Tensor, edges: Sequence[tuple[int, int]], kernel_size: int,
                   sigmas: Sequence[float], cos_sin: Tensor | None = None) -> Tensor:
    """AGMN's kernel pretraining targets ``(B, P, E, k, k)`` (module docstring).

    Args:
        keypoints: ``(B, K, 2)`` in heatmap cells, crop frame.
        edges: directed ``(sender, receiver)`` pairs, kernel channel order.
        kernel_size: k (odd).
        sigmas: one Gaussian width (cells) per pool member.
        cos_sin: ``(B, 2)`` angle the crop was turned upright by, or ``None``.
    """
    senders = torch.as_tensor([s for s, _ in edges], device=keypoints.device)
    receivers = torch.as_tensor([r for _, r in edges], device=keypoints.device)
    offsets = keypoints[:, receivers] - keypoints[:, senders]  # (B, E, 2)
    if cos_sin is not None:  # upright frame: R(-angle) d = R^T d
        offsets = torch.einsum('bji,bej->bei', rotation_matrices(cos_sin.float()), offsets)
    grid = torch.arange(kernel_size, device=keypoints.device, dtype=torch.float32)
    grid = grid - (kernel_size - 1) / 2
    sig = torch.as_tensor(list(sigmas), device=keypoints.device, dtype=torch.float32)
    inv = -0.5 / sig.square()[None, :, None, None]  # (1, P, 1, 1)
    gx = torch.exp((grid - offsets[..., 0, None]).square()[:, None] * inv)  # (B, P, E, k)
    gy = torch.exp((grid - offsets[..., 1, None]).square()[:, None] * inv)
    return gy[..., :, None] * gx[..., None, :]


@MODELS.register_module()
class RMGMNHead(MultiStageHeatmapHead):
    """R-MGMN losses (module docstring), prediction and decoding.

    Args:
        loss: heatmap loss config (``MODELS``) or module, used for the unary and marginal
            terms; default ``KeypointMSELoss``.
        decoder: keypoint codec config (``KEYPOINT_CODECS``) for :meth:`decode`.
        unary_weight / marginal_weight / kernel_weight / rotation_weight: term weights.
        stage_weights: per unary stage (``MultiStageHeatmapHead``); ``None`` = 1 each.
        kernel_sigmas: Gaussian width (heatmap cells) of each pool member's kernel targets; one
            number = the same for all.
        skeleton / limbs: the tree; must be the backbone's (checked against the kernels).
        angle_joints: as the backbone's.
        predict_from: ``'marginals'``, ``'unary'`` (last stage) or ``'auto'`` (marginals when
            the model produced them).
        compute_acc: log ``acc_pose`` of the predicted maps.
    """

    def __init__(self, loss: dict | nn.Module | None = None, decoder: Any = None,
                 unary_weight: float = 1.0, marginal_weight: float = 1.0,
                 kernel_weight: float = 1.0, rotation_weight: float = 1.0,
                 stage_weights: Sequence[float] | None = None,
                 kernel_sigmas: float | Sequence[float] = (1.0, 2.0, 3.0),
                 skeleton: str = 'hand21', limbs: Sequence[Sequence[int]] | None = None,
                 angle_joints: Sequence[int] = DEFAULT_ANGLE_JOINTS,
                 predict_from: str = 'auto', compute_acc: bool = True) -> None:
        super().__init__(loss=loss, decoder=decoder, stage_weights=stage_weights,
                         compute_acc=compute_acc)
        if predict_from not in _PREDICT_FROM:
            raise ValueError(f"RMGMNHead predict_from must be one of {_PREDICT_FROM}, got "
                             f"'{predict_from}'")
        self.unary_weight = float(unary_weight)
        self.marginal_weight = float(marginal_weight)
        self.kernel_weight = float(kernel_weight)
        self.rotation_weight = float(rotation_weight)
        self.kernel_sigmas = ([float(kernel_sigmas)] if isinstance(kernel_sigmas, (int, float))
                              else [float(s) for s in kernel_sigmas])
        limbs = get_skeleton(skeleton).limbs if limbs is None else limbs
        self.edges = directed_edges(limbs)
        self.angle_joints = tuple(angle_joints)
        self.predict_from = predict_from

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_outputs(feats: Any) -> Mapping:
        if not isinstance(feats, Mapping) or 'heatmaps' not in feats:
            raise TypeError('RMGMNHead expects the dict an RMGMN backbone returns (heatmaps, '
                            f'marginals, kernels, ...), got {type(feats).__name__}')
        return feats

    def _sigmas(self, num_models: int) -> list[float]:
        if len(self.kernel_sigmas) == 1:
            return self.kernel_sigmas * num_models
        if len(self.kernel_sigmas) != num_models:
            raise ValueError(f'RMGMNHead has {len(self.kernel_sigmas)} kernel_sigmas for a pool '
                             f'of {num_models} graphical models')
        return self.kernel_sigmas

    def kernel_loss(self, kernels: Sequence[Tensor], keypoints: Tensor, valid: Tensor,
                    cos_sin: Tensor | None) -> Tensor:
        """Mean squared error of every stage's kernels against the targets, summed over stages;
        edges with an unlabelled end weigh 0 (but count in the mean, like keypoints)."""
        b, p, e, k, _ = kernels[0].shape
        if e != len(self.edges):
            raise ValueError(f'RMGMNHead knows {len(self.edges)} directed edges, the model '
                             f'regressed {e} kernels: give both the same skeleton/limbs')
        targets = kernel_targets(keypoints, self.edges, k, self._sigmas(p), cos_sin)
        senders = torch.as_tensor([s for s, _ in self.edges], device=valid.device)
        receivers = torch.as_tensor([r for _, r in self.edges], device=valid.device)
        edge_weights = (valid[:, senders] & valid[:, receivers]).float()[:, None, :]
        total = kernels[0].new_zeros((), dtype=torch.float32)
        for stage in kernels:
            squared = (stage.float() - targets).square().mean(dim=(-2, -1))  # (B, P, E)
            total = total + (squared * edge_weights).mean()
        return total

    def rotation_loss(self, predicted: Tensor, keypoints: Tensor,
                      valid: Tensor) -> tuple[Tensor, Tensor]:
        """``mean(1 - cos(error))`` over samples with a defined hand angle, and the mean
        absolute error in degrees (logged)."""
        true, defined = hand_angle(keypoints, self.angle_joints)
        defined = defined & valid[:, self.angle_joints[0]] & valid[:, self.angle_joints[1]]
        weights = defined.float()
        cosine = (predicted.float() * true).sum(dim=1).clamp(-1.0, 1.0)
        loss = ((1 - cosine) * weights).sum() / weights.sum().clamp_min(1.0)
        degrees = torch.rad2deg(torch.acos(cosine.detach()))
        error = (degrees * weights).sum() / weights.sum().clamp_min(1.0)
        return loss, error

    # ------------------------------------------------------------------ loss / predict
    def loss(self, feats: Mapping, heatmaps: Tensor, keypoint_weights: Tensor | None = None,
             data_samples: Mapping | None = None) -> dict[str, Tensor]:
        """``loss_unary``, ``loss_marginal``, ``loss_kernel``, ``loss_rotation`` (those with a
        weight and the outputs they need), ``mse_stage{i}`` of the unary stages,
        ``angle_error_deg`` and ``acc_pose`` (logged only).

        Args:
            feats: the :class:`~poseforge.models.rmgmn.backbone.RMGMN` output dict.
            heatmaps / keypoint_weights: keypoint targets ``(B, K, H, W)`` / ``(B, K)``.
            data_samples: the batch; its ``meta`` carries the exact keypoints that the kernel
                and rotation terms need (module docstring).
        """
        feats = self._check_outputs(feats)
        if keypoint_weights is None:
            keypoint_weights = heatmaps.new_ones(heatmaps.shape[:2])
        losses: dict[str, Tensor] = {}
        if self.unary_weight > 0:
            unary = super().loss(feats['heatmaps'], heatmaps, keypoint_weights)
            unary.pop('acc_pose', None)
            losses['loss_unary'] = self.unary_weight * unary.pop('loss_kpt')
            losses.update(unary)
        marginals = feats.get('marginals')
        if self.marginal_weight > 0 and marginals is not None:
            mass = heatmaps.float().sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
            losses['loss_marginal'] = self.marginal_weight * self.loss_module(
                marginals, heatmaps.float() / mass, keypoint_weights)
        needs_keypoints = ((self.kernel_weight > 0 and feats.get('kernels'))
                           or feats.get('angle_pred') is not None)
        if needs_keypoints:
            height, width = heatmaps.shape[-2:]
            keypoints, valid = batch_keypoints(data_samples, (width, height), heatmaps.device,
                                               heatmaps.shape[0], who='RMGMNHead')
            if self.kernel_weight > 0 and feats.get('kernels'):
                losses['loss_kernel'] = self.kernel_weight * self.kernel_loss(
                    feats['kernels'], keypoints, valid, feats.get('angle'))
            if feats.get('angle_pred') is not None:
                rotation, error = self.rotation_loss(feats['angle_pred'], keypoints, valid)
                if self.rotation_weight > 0:
                    losses['loss_rotation'] = self.rotation_weight * rotation
                losses['angle_error_deg'] = error
        if not any('loss' in key for key in losses):
            raise ValueError('RMGMNHead computed no loss: every term has weight 0 or lacks '
                             'the outputs it needs (marginals/kernels in the unary stage?)')
        if self.compute_acc:
            losses['acc_pose'] = heatmap_pck_accuracy(self.predict(feats).detach().float(),
                                                      heatmaps, keypoint_weights)
        return losses

    def predict(self, feats: Mapping) -> Tensor:
        """The maps to decode ``(B, K, h, w)``: marginals or the last unary stage."""
        feats = self._check_outputs(feats)
        use_marginals = (self.predict_from == 'marginals'
                         or (self.predict_from == 'auto' and feats.get('marginals') is not None))
        if use_marginals:
            if feats.get('marginals') is None:
                raise ValueError("RMGMNHead(predict_from='marginals'): the model produced no "
                                 "marginals (train_stage='unary' does not run the pairwise "
                                 'branch)')
            return feats['marginals']
        return feats['heatmaps'][-1]
