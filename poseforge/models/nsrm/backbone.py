"""NSRM backbone (Chen et al., "Nonparametric Structure Regularization Machine for 2D Hand Pose
Estimation", WACV 2020): the hand CPM with its first stages predicting limb masks.

``model/cpm_limb.py`` (``CPMHandLimb``) of HowieMa/NSRMhand, built from the CPM blocks of
:mod:`poseforge.models.backbones.cpm` (same trunk, ``InitialStage``/``RefinementStage``, arch
table, initialisation and ImageNet loading)::

    f  = trunk(image)                       # 128 x 46 x 46 for a 368 crop (vgg19)
    s1 = Stage1(f)                          # limb maps (C channels)
    s2 = Stage(cat[f, s1]);  s3 = Stage(cat[f, s2])
    s4 = Stage(cat[f, s3])                  # keypoint maps (K channels)
    s5 = Stage(cat[f, s3, s4]);  s6 = Stage(cat[f, s3, s5])

Every keypoint stage sees the last limb stage, the structure prior. The limb stages output
*logits*: the original passes each limb stage's raw output to the next stage and applies the
sigmoid only to what it returns for the BCE loss; here the sigmoid moves into the loss
(``binary_cross_entropy_with_logits``, the same value without the overflow of ``log(sigmoid)``)
and into :meth:`~poseforge.models.nsrm.head.NSRMHead.predict_limbs`. Stage counts are options
(``num_limb_stages``, ``num_keypoint_stages``; the paper's 3 + 3 by default): with more keypoint
stages the pattern goes on as ``s_t = Stage(cat[f, s_last_limb, s_{t-1}])``.

Parameters at K = 21 with the VGG19 trunk, equal to ``CPMHandLimb(outc=21, lshc=C)``:
36,420,610 (G1, C = 1), 36,581,265 (G6, C = 6), 36,613,396 (G1&6, C = 7).
"""
from __future__ import annotations

from os import PathLike
from typing import NamedTuple

import torch
from torch import Tensor, nn

from poseforge.models.backbones.cpm import CPM, CPMArch, InitialStage, RefinementStage, build_trunk
from poseforge.registry import MODELS


class NSRMOutput(NamedTuple):
    """What :class:`NSRM` returns: every stage's maps, limb stages and keypoint stages apart.

    Attributes:
        limb_logits: ``num_limb_stages`` tensors ``(B, C, h, w)``, pre-sigmoid.
        heatmaps: ``num_keypoint_stages`` tensors ``(B, K, h, w)``; the last is the prediction.
    """

    limb_logits: list[Tensor]
    heatmaps: list[Tensor]


@MODELS.register_module()
class NSRM(nn.Module):
    """CPM trunk + limb-mask stages + keypoint stages (see the module docstring).

    Args:
        arch: a key of :data:`~poseforge.models.backbones.cpm.ARCH_SETTINGS` (``'vgg19'``: the
            paper; ``'light'``/``'light_s8'``: CPU variants), a ``CPMArch`` or a dict of its
            fields. Its ``num_stages`` is not used: see the stage counts below.
        num_keypoints: K, maps of the keypoint stages.
        limb_channels: C, maps of the limb stages: 1 (G1), 6 (G6) or 7 (G1&6) for hand21
            (:func:`poseforge.models.nsrm.limb_masks.num_limb_maps`).
        in_channels: image channels.
        num_limb_stages / num_keypoint_stages: at least 1 each (paper: 3 and 3).
        stage_channels: overrides the arch's width of the refinement stages.
        pretrained: ImageNet VGG19 state dict in torchvision's key layout (``arch='vgg19'``).

    Attributes:
        stages: all stages in order (limb stages first), as in :class:`CPM`, so checkpoints and
            the initialisation follow the same layout; ``limb_stages`` / ``keypoint_stages``
            are views of it.
        stride, feat_channels: as in :class:`CPM`.
    """

    # The CPM's initialisation (Kaiming convs, N(0, 1e-3) last conv of every stage in
    # ``self.stages``) and its torchvision VGG19 loading (into ``self.trunk``) apply unchanged.
    _init_weights = CPM._init_weights
    load_vgg19 = CPM.load_vgg19

    def __init__(self, arch: str | CPMArch | dict = 'vgg19', num_keypoints: int = 21,
                 limb_channels: int = 7, in_channels: int = 3, num_limb_stages: int = 3,
                 num_keypoint_stages: int = 3, stage_channels: int | None = None,
                 pretrained: str | PathLike | None = None) -> None:
        super().__init__()
        if num_limb_stages < 1 or num_keypoint_stages < 1:
            raise ValueError(f'NSRM needs at least one limb and one keypoint stage, got '
                             f'{num_limb_stages} and {num_keypoint_stages}')
        if limb_channels < 1 or num_keypoints < 1:
            raise ValueError(f'NSRM: limb_channels ({limb_channels}) and num_keypoints '
                             f'({num_keypoints}) must be positive')
        self.arch = CPM._resolve_arch(arch, None, stage_channels)
        self.num_keypoints = num_keypoints
        self.limb_channels = limb_channels
        self.num_limb_stages = num_limb_stages
        self.trunk, self.feat_channels, self.stride = build_trunk(
            self.arch.trunk, in_channels, self.arch.trunk_norm)
        f, c, k = self.feat_channels, limb_channels, num_keypoints
        stages = [InitialStage(f, self.arch.stage1_channels, c, self.arch.stage_norm)]
        stages += [self._refinement(f + c, c) for _ in range(1, num_limb_stages)]
        stages.append(self._refinement(f + c, k))
        stages += [self._refinement(f + c + k, k) for _ in range(1, num_keypoint_stages)]
        self.stages = nn.ModuleList(stages)
        self._init_weights()
        if pretrained is not None:
            if not self.arch.torchvision_vgg19 or in_channels != 3:
                raise ValueError('NSRM: pretrained= loads torchvision VGG19 weights: it needs '
                                 "arch='vgg19' and in_channels=3")
            self.load_vgg19(pretrained)

    def _refinement(self, in_channels: int, out_channels: int) -> RefinementStage:
        return RefinementStage(in_channels, self.arch.stage_channels, out_channels,
                               self.arch.stage_kernel, self.arch.stage_dilations,
                               self.arch.stage_norm)

    @property
    def limb_stages(self) -> nn.ModuleList:
        return self.stages[:self.num_limb_stages]

    @property
    def keypoint_stages(self) -> nn.ModuleList:
        return self.stages[self.num_limb_stages:]

    def forward(self, x: Tensor) -> NSRMOutput:
        """``(B, C_in, H, W)`` -> :class:`NSRMOutput` at ``(H/stride, W/stride)``."""
        features = self.trunk(x)
        limb_stages, keypoint_stages = self.limb_stages, self.keypoint_stages
        limbs = [limb_stages[0](features)]
        for stage in limb_stages[1:]:
            limbs.append(stage(torch.cat([features, limbs[-1]], dim=1)))
        prior = torch.cat([features, limbs[-1]], dim=1)  # every keypoint stage sees it
        heatmaps = [keypoint_stages[0](prior)]
        for stage in keypoint_stages[1:]:
            heatmaps.append(stage(torch.cat([prior, heatmaps[-1]], dim=1)))
        return NSRMOutput(limbs, heatmaps)
