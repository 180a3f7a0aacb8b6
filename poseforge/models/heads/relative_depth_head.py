"""Relative-depth head: one more CPM stage on the trunk's features and the heatmaps, then a
small MLP that regresses each joint's root-relative, bone-normalised depth.

The head of DGGAN's early code (Kuzphi/UniversalHand3dFrame, ``CPMWeaklyDirectRegression``): a
seventh CPM stage, run beside the last heatmap stage on ``cat[stage-5 maps, features]`` (five 7x7
convs at 128 channels, a 1x1 conv, a 1x1 conv to K maps), flattened (K x 32 x 32 = 22528 for a
256 crop) and mapped by fully connected layers 22528 -> 512 -> 512 -> K to ``d_i = (z_i -
z_root) / L_ref`` (:mod:`poseforge.codecs.relative_depth`). Loss: ``0.1 * SmoothL1`` (the
paper's weight) against the target.

Differences, on purpose: that code stacks its three linear layers with nothing between them,
which is one linear map in three factors; here each hidden layer is followed by a ReLU
(``fc_activation=False`` restores the plain stack). The stage's width, kernel and number of
convs are options, so the light CPU models can use the light CPM's 3x3 dilated stage.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poseforge.registry import MODELS

__all__ = ['RelativeDepthHead']


def _conv(in_channels: int, out_channels: int, kernel: int, dilation: int = 1,
          norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel,
                                         padding=dilation * (kernel - 1) // 2,
                                         dilation=dilation, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return layers


@MODELS.register_module()
class RelativeDepthHead(nn.Module):
    """CPM-style depth stage + MLP -> ``(B, K)`` relative depths.

    Args:
        in_channels: channels of the backbone's features (CPM: ``feat_channels``).
        num_keypoints: K (input maps and output depths).
        heatmap_size: ``(w, h)`` of the maps (fixes the first linear layer's width).
        stage_channels: width of the stage's convs (code: 128).
        stage_kernel: their kernel (code: 7).
        stage_dilations: one dilation per large conv (code: five convs, all 1).
        stage_norm: BatchNorm after each conv (the light CPU models use it).
        fc_channels: hidden widths of the MLP (code: 512, 512).
        fc_activation: ReLU after each hidden linear layer (module docstring).
        loss_weight: weight of the SmoothL1 loss (paper: 0.1).
        beta: SmoothL1's transition point (PyTorch default 1.0, as the code).
    """

    def __init__(self, in_channels: int, num_keypoints: int = 21,
                 heatmap_size: Sequence[int] = (32, 32), stage_channels: int = 128,
                 stage_kernel: int = 7, stage_dilations: Sequence[int] = (1, 1, 1, 1, 1),
                 stage_norm: bool = False, fc_channels: Sequence[int] = (512, 512),
                 fc_activation: bool = True, loss_weight: float = 0.1,
                 beta: float = 1.0) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        layers: list[nn.Module] = []
        channels = in_channels + num_keypoints
        for dilation in stage_dilations:
            layers += _conv(channels, stage_channels, stage_kernel, dilation, stage_norm)
            channels = stage_channels
        layers += _conv(channels, stage_channels, 1, norm=stage_norm)
        layers.append(nn.Conv2d(stage_channels, num_keypoints, 1))
        self.stage = nn.Sequential(*layers)
        mlp: list[nn.Module] = []
        width = num_keypoints * self.heatmap_size[0] * self.heatmap_size[1]
        for hidden in fc_channels:
            mlp.append(nn.Linear(width, hidden))
            if fc_activation:
                mlp.append(nn.ReLU(inplace=True))
            width = hidden
        mlp.append(nn.Linear(width, num_keypoints))
        self.mlp = nn.Sequential(*mlp)
        self.loss_weight = float(loss_weight)
        self.beta = float(beta)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        # the last layer starts near zero: an untrained head predicts a flat hand (d = 0)
        nn.init.normal_(self.mlp[-1].weight, std=1e-3)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: Tensor, maps: Tensor) -> Tensor:
        """``features`` (B, C, h, w) and ``maps`` (B, K, h, w) -> ``(B, K)`` float."""
        if tuple(maps.shape[-2:]) != (self.heatmap_size[1], self.heatmap_size[0]):
            raise ValueError(f'RelativeDepthHead was built for {self.heatmap_size[0]}x'
                             f'{self.heatmap_size[1]} maps (heatmap_size), got '
                             f'{maps.shape[-1]}x{maps.shape[-2]}')
        out = self.stage(torch.cat([features, maps], dim=1))
        return self.mlp(out.flatten(1)).float()

    def loss(self, pred: Tensor, target: Tensor, weights: Tensor | None = None
             ) -> dict[str, Tensor]:
        """``loss_depth = loss_weight * SmoothL1`` averaged over the labelled joints, and
        ``depth_mae`` (mean absolute error in ``L_ref`` units, logged only)."""
        target = target.float().reshape(pred.shape)
        if weights is None:
            weights = torch.ones_like(target)
        weights = weights.float().reshape(pred.shape)
        per_joint = F.smooth_l1_loss(pred, target, reduction='none', beta=self.beta)
        count = weights.sum().clamp_min(1.0)
        loss = (per_joint * weights).sum() / count
        mae = ((pred - target).abs() * weights).sum() / count
        return dict(loss_depth=loss * self.loss_weight, depth_mae=mae.detach())
