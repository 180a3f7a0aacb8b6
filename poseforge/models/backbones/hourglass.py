"""Stacked hourglass (Newell et al., ECCV 2016) in a pre-activated ResNet: OKDHP's baseline.

The network of the OKDHP authors' ``lib/models/hourglass.py`` (zhengli97/OKDHP, after W. Yang's
pytorch-pose), rebuilt module by module with the same layers, so that the parameter counts
agree (16 joints, 2 / 4 / 8 stacks: 6,730,912 / 13,018,816 / 25,594,624; tested):

* :class:`PreActBottleneck`: BN-ReLU-conv 1x1 (-> planes), BN-ReLU-conv 3x3, BN-ReLU-conv 1x1
  (-> 2 x planes), every conv biased, BN momentum 0.1, plus the input (through a biased 1x1
  conv when the width changes);
* stem (:class:`HourglassStem`): 7x7 stride-2 conv -> C/4, BN, ReLU, bottleneck -> C/2, 2x2 max
  pool, bottleneck -> C, bottleneck -> C; a 256x256 crop gives C x 64 x 64 (C = 256). The
  authors' ``layer2 = _make_residual(block, self.inplanes, 1)`` reads ``inplanes`` after
  ``layer1`` has set it to 128, so ``layer2`` already widens to 256 (a 1x1 shortcut) and
  ``layer3`` keeps 256: that is what their parameter count holds, and what this stem builds;
* each stack (:class:`HourglassStack`): a depth-4 :class:`Hourglass` (at every level one
  residual on the skip branch, one after the max pool, one before the nearest x2 upsampling,
  and one more at the bottom), a residual, 1x1 conv-BN-ReLU, a 1x1 score conv to the K
  heatmaps; every stack but the last feeds the next one ``x + fc_(y) + score_(heatmap)``
  (two biased 1x1 convs, the "remap").

:meth:`StackedHourglass.forward` returns every stack's heatmaps (intermediate supervision
through :class:`~poseforge.models.heads.MultiStageHeatmapHead`), at 1/4 of the input size.
The stem and the stacks are public modules (``stem``, ``stacks``) with stack-level entry points
(:meth:`StackedHourglass.forward_stem`, :meth:`HourglassStack.forward`), which is what OKDHP's
multi-branch network (``poseforge.distillers.okdhp``) composes: branches that share the stem
and the first stacks.

Differences from the authors' module (neither changes what the network computes):
``nn.Upsample(scale_factor=2)`` becomes an interpolation to the skip branch's size (equal for
even sizes; odd feature sizes, e.g. 256x192 crops at depth 5, then still line up); weights keep
PyTorch's default initialisation, as the authors' code does.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from poseforge.registry import MODELS

#: BatchNorm momentum of the authors' code (``BN_MOMENTUM = 0.1``, PyTorch's default).
BN_MOMENTUM = 0.1


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck, expansion 2: ``in_channels -> 2 * planes``.

    The shortcut is a biased 1x1 conv only when the width changes (the authors'
    ``downsample``), otherwise the identity.
    """

    expansion = 2

    def __init__(self, in_channels: int, planes: int, bn_momentum: float = BN_MOMENTUM) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=bn_momentum)
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=True)
        self.bn2 = nn.BatchNorm2d(planes, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=True)
        self.bn3 = nn.BatchNorm2d(planes, momentum=bn_momentum)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=True)
        self.shortcut = (nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=True)
                         if in_channels != out_channels else None)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))


def residuals(in_channels: int, out_channels: int, num_blocks: int,
              bn_momentum: float = BN_MOMENTUM) -> nn.Sequential:
    """``num_blocks`` bottlenecks ``in_channels -> out_channels`` (the first changes width)."""
    if out_channels % PreActBottleneck.expansion:
        raise ValueError(f'hourglass widths must be even, got {out_channels}')
    planes = out_channels // PreActBottleneck.expansion
    blocks = [PreActBottleneck(in_channels, planes, bn_momentum)]
    blocks += [PreActBottleneck(out_channels, planes, bn_momentum) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


class Hourglass(nn.Module):
    """One hourglass of ``depth`` levels at constant width ``channels``.

    ``out = skip(x) + up(upsample(up_res(inner(down(maxpool(x))))))`` where ``inner`` is the
    hourglass one level shallower, or one more residual at the bottom (the authors' fourth
    residual of level 1).
    """

    def __init__(self, depth: int, channels: int, num_blocks: int = 1,
                 bn_momentum: float = BN_MOMENTUM) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f'hourglass depth must be >= 1, got {depth}')
        self.skip = residuals(channels, channels, num_blocks, bn_momentum)
        self.down = residuals(channels, channels, num_blocks, bn_momentum)
        self.inner = (Hourglass(depth - 1, channels, num_blocks, bn_momentum) if depth > 1
                      else residuals(channels, channels, num_blocks, bn_momentum))
        self.up = residuals(channels, channels, num_blocks, bn_momentum)

    def forward(self, x: Tensor) -> Tensor:
        low = self.up(self.inner(self.down(F.max_pool2d(x, 2, stride=2))))
        return self.skip(x) + F.interpolate(low, size=x.shape[-2:], mode='nearest')


class HourglassStem(nn.Sequential):
    """7x7/2 conv, BN, ReLU, bottleneck, 2x2 max pool, two bottlenecks: 3 x H x W -> C x H/4 x
    W/4 (``C = channels``; widths C/4, C/2, C, C as the authors' 64, 128, 256, 256)."""

    def __init__(self, channels: int = 256, in_channels: int = 3,
                 bn_momentum: float = BN_MOMENTUM) -> None:
        if channels % 4:
            raise ValueError(f'hourglass channels must be a multiple of 4, got {channels}')
        quarter, half = channels // 4, channels // 2
        super().__init__(
            nn.Conv2d(in_channels, quarter, kernel_size=7, stride=2, padding=3, bias=True),
            nn.BatchNorm2d(quarter, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            residuals(quarter, half, 1, bn_momentum),
            nn.MaxPool2d(2, stride=2),
            residuals(half, channels, 1, bn_momentum),
            residuals(channels, channels, 1, bn_momentum),
        )


class HourglassStack(nn.Module):
    """Hourglass, residual, 1x1 conv-BN-ReLU, 1x1 score; the remap to the next stack's input.

    :meth:`forward` returns ``(heatmaps, next_input)``; ``next_input`` is ``None`` for a stack
    built with ``last=True`` (it has no remap convs, as the authors' last stack).
    """

    def __init__(self, channels: int, num_keypoints: int, depth: int = 4, num_blocks: int = 1,
                 last: bool = False, bn_momentum: float = BN_MOMENTUM) -> None:
        super().__init__()
        self.hourglass = Hourglass(depth, channels, num_blocks, bn_momentum)
        self.residual = residuals(channels, channels, num_blocks, bn_momentum)
        self.fc = nn.Sequential(nn.Conv2d(channels, channels, kernel_size=1, bias=True),
                                nn.BatchNorm2d(channels, momentum=bn_momentum),
                                nn.ReLU(inplace=True))
        self.score = nn.Conv2d(channels, num_keypoints, kernel_size=1, bias=True)
        self.last = last
        if not last:
            self.fc_remap = nn.Conv2d(channels, channels, kernel_size=1, bias=True)
            self.score_remap = nn.Conv2d(num_keypoints, channels, kernel_size=1, bias=True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        y = self.fc(self.residual(self.hourglass(x)))
        heatmaps = self.score(y)
        if self.last:
            return heatmaps, None
        return heatmaps, x + self.fc_remap(y) + self.score_remap(heatmaps)


@MODELS.register_module()
class StackedHourglass(nn.Module):
    """Stacked hourglass network; ``forward`` returns each stack's ``(B, K, H/4, W/4)`` maps.

    Args:
        num_stacks: hourglass stacks (the paper's baselines: 2, 4, 8).
        num_keypoints: heatmaps per stack (K).
        channels: width of the hourglasses (the authors' ``NUM_FEATURES`` 256); the light
            configs use narrower ones.
        depth: levels of each hourglass (4: 64 -> 4 px for a 256 crop).
        num_blocks: residuals per hourglass level and after each hourglass (1).
        in_channels: image channels.
        bn_momentum: BatchNorm momentum (0.1).
    """

    def __init__(self, num_stacks: int = 2, num_keypoints: int = 16, channels: int = 256,
                 depth: int = 4, num_blocks: int = 1, in_channels: int = 3,
                 bn_momentum: float = BN_MOMENTUM) -> None:
        super().__init__()
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        self.num_stacks = num_stacks
        self.num_keypoints = num_keypoints
        self.stem = HourglassStem(channels, in_channels, bn_momentum)
        self.stacks = nn.ModuleList(
            HourglassStack(channels, num_keypoints, depth, num_blocks,
                           last=(i == num_stacks - 1), bn_momentum=bn_momentum)
            for i in range(num_stacks))

    def forward_stem(self, x: Tensor) -> Tensor:
        """Image -> the first stack's input (``C x H/4 x W/4``)."""
        return self.stem(x)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.forward_stem(x)
        outputs = []
        for stack in self.stacks:
            heatmaps, x = stack(x)
            outputs.append(heatmaps)
        return outputs


def run_stacks(stacks: Sequence[HourglassStack], x: Tensor) -> tuple[list[Tensor], Tensor | None]:
    """Run ``stacks`` in order from input ``x``: ``(heatmaps of each, the last next_input)``."""
    outputs = []
    for stack in stacks:
        heatmaps, x = stack(x)
        outputs.append(heatmaps)
    return outputs, x
