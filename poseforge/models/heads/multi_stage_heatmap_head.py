"""Head for multi-stage heatmap backbones (CPM and relatives): losses and decoding.

The CPM backbone already ends in the keypoint maps, so this head has no layers: it supervises
every stage (intermediate supervision, Wei et al. 2016; NSRM's ``CPM/main.py`` sums the MSE of
all six stages against the same target) and decodes the last stage with the keypoint codec.

CPM's objective (``docs/methods.md``; every poseforge CPM config)::

    loss_kpt = sum_stages s_t * sum_k sum_{b,y,x} w_bk (pred_t - target)^2 / (B * H * W)

i.e. ``KeypointMSELoss(keypoint_reduction='sum')`` per stage, ``s_t = 1`` (``stage_weights``).
NSRM's keypoint term is this very sum over its keypoint stages (plus its limb BCE), so the CPM
and NSRM rows of a comparison optimise the same keypoint objective. The head's default loss is
mmpose's ``KeypointMSELoss`` (the mean over keypoints, K times smaller).
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import torch
from torch import Tensor, nn

from poseforge.models.utils import heatmap_pck_accuracy
from poseforge.registry import KEYPOINT_CODECS, MODELS

Feats = Union[Sequence[Tensor], Tensor]


def as_stage_list(feats: Feats) -> list[Tensor]:
    """A single ``(B, K, h, w)`` tensor is a one-stage output."""
    return [feats] if isinstance(feats, Tensor) else list(feats)


@MODELS.register_module()
class MultiStageHeatmapHead(nn.Module):
    """Per-stage heatmap losses, last-stage prediction, codec decoding.

    Args:
        loss: loss config (``MODELS``) or module; called ``loss(pred, target, weights)``.
        decoder: codec config (``KEYPOINT_CODECS``, e.g. ``dict(type='MSRAHeatmap', ...)``) or a
            codec object with ``batch_decode``; ``None`` when the model only trains.
        stage_weights: weight of each stage's loss in ``loss_kpt``; ``None`` = 1 for every stage
            (the original's plain sum).
        compute_acc: also return ``acc_pose`` (mmpose-style argmax PCK at 0.05 of the heatmap
            size on the last stage), logged only.
    """

    def __init__(self, loss: dict | nn.Module | None = None, decoder: Any = None,
                 stage_weights: Sequence[float] | None = None, compute_acc: bool = True) -> None:
        super().__init__()
        loss = dict(type='KeypointMSELoss') if loss is None else loss
        self.loss_module = MODELS.build(loss) if isinstance(loss, dict) else loss
        self.decoder = KEYPOINT_CODECS.build(decoder) if isinstance(decoder, dict) else decoder
        self.stage_weights = None if stage_weights is None else [float(w) for w in stage_weights]
        self.compute_acc = compute_acc

    def _weights(self, num_stages: int) -> list[float]:
        if self.stage_weights is None:
            return [1.0] * num_stages
        if len(self.stage_weights) != num_stages:
            raise ValueError(f'stage_weights has {len(self.stage_weights)} entries for '
                             f'{num_stages} stage outputs')
        return self.stage_weights

    def loss(self, feats: Feats, heatmaps: Tensor,
             keypoint_weights: Tensor | None = None) -> dict[str, Tensor]:
        """Losses of every stage against the same target.

        Returns ``loss_kpt`` (the weighted sum that is optimised), ``mse_stage{i}`` (each
        stage's loss, detached, for logging: no ``loss`` in the name, so mmengine does not add it
        to the total) and ``acc_pose`` when ``compute_acc``.
        """
        stages = as_stage_list(feats)
        stage_losses = [self.loss_module(pred, heatmaps, keypoint_weights) for pred in stages]
        total = sum(w * l for w, l in zip(self._weights(len(stages)), stage_losses))
        losses: dict[str, Tensor] = dict(loss_kpt=total)
        for i, value in enumerate(stage_losses, start=1):
            losses[f'mse_stage{i}'] = value.detach()
        if self.compute_acc:
            losses['acc_pose'] = heatmap_pck_accuracy(stages[-1].detach(), heatmaps,
                                                      keypoint_weights)
        return losses

    def predict(self, feats: Feats) -> Tensor:
        """The last stage's heatmaps ``(B, K, h, w)`` (the refined prediction)."""
        return as_stage_list(feats)[-1]

    def decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, K, h, w)`` -> keypoints ``(B, K, 2)`` in input px and scores ``(B, K)``.

        Decoded in float32 (autocast may hand over bf16 maps).
        """
        if self.decoder is None:
            raise RuntimeError('MultiStageHeatmapHead has no decoder: set decoder=<codec cfg> '
                               'to predict keypoints')
        with torch.autocast(heatmaps.device.type, enabled=False):
            return self.decoder.batch_decode(heatmaps.float())
