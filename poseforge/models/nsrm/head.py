"""Head of NSRM (Chen et al., WACV 2020): keypoint MSE on the keypoint stages plus a weighted
limb-mask BCE on the limb stages, computed from limb targets built on the fly.

Loss (``main.py`` of HowieMa/NSRMhand)::

    loss_kpt  = sum over keypoint stages of the keypoint loss        (stages 4-6)
    loss_limb = w * sum over limb stages of L_limb                   (stages 1-3)
    L_limb    = L_G1 + w61 * L_G6 for G1&6;  the BCE of its maps for G1 or G6 alone

Scale: the original divides summed losses by ``B * 46 * 46``: its keypoint MSE is summed over
the 21 keypoint maps, its BCE over the limb maps (``src/loss.py``). The default keypoint loss
here is ``KeypointMSELoss(loss_weight=21)`` (its mean over keypoints times K = the original's
sum at K = 21; the configs write it ``KeypointMSELoss(keypoint_reduction='sum')``, the CPM
configs' objective, which is the sum for any K) and the BCE is summed over limb maps and averaged over batch and cells (``H * W`` of the
actual grid, 46 x 46 in the paper), so the original's weights ``w``/``w61`` keep their meaning.

Weights (the original's ``configs/*.json``; see :data:`DEFAULT_LIMB_WEIGHTS`): LPM-G1 w=0.5;
LPM-G1&6 w=0.1, w61=0.2; LDM-G1 w=1.0; LDM-G1&6 w=0.2, w61=0.2. G6 alone has no published
setting (the original's G6 datasets always prepend G1): it takes G1's ``w`` (0.5 LPM, 1.0 LDM),
since the six finger/palm maps summed carry about the foreground of the one G1 map. ``w`` is
multiplied by ``limb_weight_scale``, which :class:`~poseforge.models.nsrm.limb_weight_hook.
LimbWeightDecayHook` lowers x0.1 every 20 epochs (the original's ``weight_decay``).

Where the limb targets come from: the masks need the keypoints in heatmap cells, which the
target heatmaps only hold blurred and, for joints outside the crop, not at all. The estimator
passes the batch (:meth:`NSRMHead.loss` takes ``data_samples``) and
:func:`poseforge.models.ground_truth.batch_keypoints` reads the exact keypoints from every
sample's ``meta['transformed_keypoints']`` (scaled by ``heatmap_size / meta['input_size']``) and
``meta['keypoints_visible']``: exact everywhere, also for a limb that crosses the crop's border.

The BCE uses logits (the backbone's limb stages are pre-sigmoid, as the original's inter-stage
tensors are): ``binary_cross_entropy_with_logits`` equals the original's ``BCELoss(sigmoid(x))``
without its overflow (PyTorch's BCE clamps ``log`` at -100 where ``sigmoid`` saturates).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poseforge.models.ground_truth import batch_keypoints
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead
from poseforge.models.nsrm.backbone import NSRMOutput
from poseforge.models.nsrm.limb_masks import (MASK_TYPES, canonical_grouping,
                                              grouping_limb_groups, limb_targets)
from poseforge.registry import MODELS
from poseforge.skeletons import HAND21

#: ``(mask_type, grouping) -> w`` of the original's configs (G6: our choice, see above).
DEFAULT_LIMB_WEIGHTS: dict[tuple[str, str], float] = {
    ('lpm', 'G1'): 0.5, ('lpm', 'G1&6'): 0.1, ('lpm', 'G6'): 0.5,
    ('ldm', 'G1'): 1.0, ('ldm', 'G1&6'): 0.2, ('ldm', 'G6'): 1.0,
}
#: ``w61``, the G6 part's weight inside the G1&6 limb loss (both mask types).
DEFAULT_G6_WEIGHT = 0.2


def _as_nsrm_output(feats: Any) -> NSRMOutput:
    """:class:`NSRMOutput`, or a ``(limb_logits, heatmaps)`` pair of stage lists."""
    if isinstance(feats, NSRMOutput):
        return feats
    if isinstance(feats, (tuple, list)) and len(feats) == 2 \
            and all(isinstance(f, (tuple, list)) for f in feats):
        return NSRMOutput(list(feats[0]), list(feats[1]))
    raise TypeError(f'NSRMHead expects the NSRM backbone output (limb_logits, heatmaps), got '
                    f'{type(feats).__name__}: use backbone=dict(type="NSRM", ...)')


@MODELS.register_module()
class NSRMHead(MultiStageHeatmapHead):
    """Keypoint loss on the keypoint stages, limb BCE on the limb stages, last-stage decoding.

    Args:
        mask_type: ``'lpm'`` or ``'ldm'``.
        grouping: ``'G1'``, ``'G6'`` or ``'G1&6'`` (``'G1and6'`` too); the backbone's
            ``limb_channels`` must be its map count (1, 6, 7).
        limb_weight: ``w``; ``None`` = :data:`DEFAULT_LIMB_WEIGHTS` for the mask type and
            grouping.
        g6_weight: ``w61`` for G1&6; ``None`` = 0.2. Ignored otherwise.
        limb_sigma: LPM sigma, heatmap cells (paper: 1).
        ldm_width: LDM half-width, heatmap cells (paper: 1).
        limbs: joint pairs; default ``hand21``'s 20 limbs (the G6 groups index them).
        loss: keypoint loss, called ``loss(pred, target, weights)`` per keypoint stage;
            default ``KeypointMSELoss(loss_weight=21)`` (the original's sum over 21 maps).
        decoder: keypoint codec config / object for prediction.
        stage_weights: per keypoint stage weights (``None`` = 1 each).
        compute_acc: also log ``acc_pose`` of the last keypoint stage.

    Attributes:
        limb_weight_scale: multiplies ``limb_weight``; set by ``LimbWeightDecayHook``.
    """

    def __init__(self, mask_type: str = 'lpm', grouping: str = 'G1&6',
                 limb_weight: float | None = None, g6_weight: float | None = None,
                 limb_sigma: float = 1.0, ldm_width: float = 1.0,
                 limbs: Sequence[Sequence[int]] | None = None,
                 loss: dict | nn.Module | None = None, decoder: Any = None,
                 stage_weights: Sequence[float] | None = None, compute_acc: bool = True) -> None:
        loss = dict(type='KeypointMSELoss', loss_weight=21.0) if loss is None else loss
        super().__init__(loss=loss, decoder=decoder, stage_weights=stage_weights,
                         compute_acc=compute_acc)
        self.mask_type = str(mask_type).lower()
        if self.mask_type not in MASK_TYPES:
            raise ValueError(f"NSRMHead: mask_type must be 'lpm' or 'ldm', got {mask_type!r}")
        self.grouping = canonical_grouping(grouping)
        self.limbs = tuple(tuple(int(j) for j in limb) for limb in
                           (HAND21.limbs if limbs is None else limbs))
        self.limb_weight = float(DEFAULT_LIMB_WEIGHTS[self.mask_type, self.grouping]
                                 if limb_weight is None else limb_weight)
        self.g6_weight = float(DEFAULT_G6_WEIGHT if g6_weight is None else g6_weight)
        self.limb_sigma = float(limb_sigma)
        self.ldm_width = float(ldm_width)
        self.limb_weight_scale = 1.0
        groups = grouping_limb_groups(self.grouping, len(self.limbs))
        # BCE weight of each limb map: 1 for G1 / G6 alone; [1, w61 x 6] for G1&6
        channel_weights = [1.0] * len(groups)
        if self.grouping == 'G1&6':
            channel_weights = [1.0] + [self.g6_weight] * (len(groups) - 1)
        self.register_buffer('channel_weights', torch.tensor(channel_weights), persistent=False)

    @property
    def num_limb_maps(self) -> int:
        return int(self.channel_weights.numel())

    # ------------------------------------------------------------------ limb targets
    @torch.no_grad()
    def limb_targets(self, heatmaps: Tensor, data_samples: Mapping | None) -> Tensor:
        """``(B, C, H, W)`` float32 limb masks on the keypoint targets' grid and device, from
        the batch's exact keypoints (module docstring)."""
        height, width = heatmaps.shape[-2:]
        keypoints, visible = batch_keypoints(data_samples, (width, height), heatmaps.device,
                                             heatmaps.shape[0], who='NSRMHead (limb targets)')
        return limb_targets(keypoints, visible, (width, height), self.mask_type, self.grouping,
                            self.limb_sigma, self.ldm_width, self.limbs)

    # ------------------------------------------------------------------ losses
    def limb_bce(self, logits: Tensor, targets: Tensor) -> Tensor:
        """One limb stage's loss: per map BCE summed over cells / (B * H * W), maps weighted
        (G1&6: ``L_G1 + w61 * L_G6``) and summed. Float32 whatever the autocast dtype."""
        if logits.shape != targets.shape:
            raise ValueError(
                f"NSRMHead: grouping '{self.grouping}' needs {targets.shape[1]} limb maps of "
                f'{tuple(targets.shape[-2:])}, the backbone gives {tuple(logits.shape[1:])}: '
                f'set the backbone\'s limb_channels={targets.shape[1]}')
        bce = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction='none')
        per_map = bce.mean(dim=(0, 2, 3))
        return (per_map * self.channel_weights.to(per_map.device)).sum()

    def loss(self, feats: NSRMOutput, heatmaps: Tensor, keypoint_weights: Tensor | None = None,
             data_samples: Mapping | None = None) -> dict[str, Tensor]:
        """``loss_kpt`` and ``loss_limb`` (mmengine sums every ``loss*`` key), and for logging:
        ``mse_stage{i}`` / ``bce_stage{i}`` numbered as the paper's stages (limb stages first),
        ``limb_weight`` (current ``w``) and ``acc_pose``.

        Args:
            feats: the :class:`NSRM` output.
            heatmaps / keypoint_weights: keypoint targets ``(B, K, H, W)`` / ``(B, K)``.
            data_samples: the batch: its ``meta`` carries the exact keypoints.
        """
        out = _as_nsrm_output(feats)
        num_limb_stages = len(out.limb_logits)
        keypoint_losses = super().loss(out.heatmaps, heatmaps, keypoint_weights)
        losses: dict[str, Tensor] = {}
        for key, value in keypoint_losses.items():
            if key.startswith('mse_stage'):
                key = f'mse_stage{int(key[len("mse_stage"):]) + num_limb_stages}'
            losses[key] = value
        targets = self.limb_targets(heatmaps, data_samples)
        stage_losses = [self.limb_bce(logits, targets) for logits in out.limb_logits]
        weight = self.limb_weight * self.limb_weight_scale
        losses['loss_limb'] = weight * sum(stage_losses)
        for i, value in enumerate(stage_losses, start=1):
            losses[f'bce_stage{i}'] = value.detach()
        losses['limb_weight'] = torch.tensor(weight, device=heatmaps.device)
        return losses

    # ------------------------------------------------------------------ prediction
    def predict(self, feats: NSRMOutput) -> Tensor:
        """The last keypoint stage ``(B, K, h, w)``."""
        return _as_nsrm_output(feats).heatmaps[-1]

    def predict_limbs(self, feats: NSRMOutput) -> Tensor:
        """The last limb stage as masks in [0, 1] ``(B, C, h, w)`` (for inspection)."""
        return _as_nsrm_output(feats).limb_logits[-1].sigmoid()
