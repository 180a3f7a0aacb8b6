"""A light heatmap network for CPU students: MobileNetV2 inverted residuals + a small decoder.

The encoder is MobileNetV2's (Sandler et al., CVPR 2018, Table 2): a 3x3 stride-2 stem, then
stages of inverted residual blocks (1x1 expansion by ``t`` -> 3x3 depthwise -> linear 1x1
projection; identity shortcut when the stride is 1 and the width is kept; BatchNorm, ReLU6).
``arch`` lists the stages as the paper's ``(t, c, n, s)`` rows; the default keeps the first five
rows (to stride 16), which is what a 64-128 px hand crop can use: the paper's deeper rows would
pool a 64 px crop to 2x2.

The decoder brings the stride-16 features back to the heatmap stride (4 or 8) in U-Net fashion,
as light pose decoders do (e.g. the "simple baseline" heads, with bilinear upsampling instead of
transposed convs): at each x2 step the coarse map is upsampled and added to a 1x1 projection of
the encoder stage of that stride, then refined by a depthwise-separable 3x3 conv. A 1x1 conv
(``final_layer``) gives the K heatmaps, the "heatmap head" whose input a head-sharing
distiller can feed (``backbone.final_layer``).

``widen_factor`` scales every width (rounded to multiples of 8, as the paper's width
multiplier); ``head_channels`` is the decoder's width. The whole thing is one registered
backbone, so a student config is ``TopdownPoseEstimator(backbone=MobileNetV2Pose(...),
head=MultiStageHeatmapHead(...))`` like every other poseforge model.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from poseforge.registry import MODELS

#: MobileNetV2's first rows ``(expand ratio t, channels c, blocks n, stride s)``: strides 2, 4,
#: 8, 16, 16 after the stem's /2.
DEFAULT_ARCH: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a width to a multiple of ``divisor``, never below 90 % of it (the paper's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when ``t == 1``) -> 3x3 depthwise (stride) -> 1x1 linear project."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu(in_channels, hidden, kernel_size=1))
        layers += [conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
                   conv_bn_relu(hidden, out_channels, kernel_size=1, relu=False)]
        self.conv = nn.Sequential(*layers)
        self.use_shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_shortcut else out


class SeparableConv(nn.Sequential):
    """3x3 depthwise + 1x1 pointwise, each with BatchNorm and ReLU6 (the decoder's refinement)."""

    def __init__(self, channels: int) -> None:
        super().__init__(conv_bn_relu(channels, channels, 3, groups=channels),
                         conv_bn_relu(channels, channels, kernel_size=1))


class DecoderStep(nn.Module):
    """Upsample the coarse map to the skip's size, add the skip's 1x1 projection, refine."""

    def __init__(self, skip_channels: int, channels: int) -> None:
        super().__init__()
        self.lateral = conv_bn_relu(skip_channels, channels, kernel_size=1, relu=False)
        self.refine = SeparableConv(channels)

    def forward(self, coarse: Tensor, skip: Tensor) -> Tensor:
        up = F.interpolate(coarse, size=skip.shape[-2:], mode='bilinear', align_corners=False)
        return self.refine(up + self.lateral(skip))


@MODELS.register_module()
class MobileNetV2Pose(nn.Module):
    """MobileNetV2 encoder + U-Net-style decoder -> ``(B, K, H/out_stride, W/out_stride)``.

    Args:
        num_keypoints: heatmaps (K).
        widen_factor: width multiplier of the encoder (MobileNetV2's alpha).
        arch: encoder stages ``(t, c, n, s)``; strides must multiply (with the stem's 2) to at
            least ``out_stride``.
        stem_channels: the stem conv's width before ``widen_factor``.
        head_channels: decoder width.
        out_stride: heatmap stride, 4 or 8 (or any power of 2 that an encoder stage ends at).
        in_channels: image channels.

    Modules (paths a distiller can name): ``stem``, ``stages.<i>`` (encoder stage outputs),
    ``decoder.<j>`` (each upsampling step), ``final_layer`` (1x1 -> heatmaps).
    """

    def __init__(self, num_keypoints: int = 21, widen_factor: float = 1.0,
                 arch: Sequence[Sequence[int]] = DEFAULT_ARCH, stem_channels: int = 32,
                 head_channels: int = 64, out_stride: int = 4, in_channels: int = 3) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        width = make_divisible(stem_channels * widen_factor)
        self.stem = conv_bn_relu(in_channels, width, 3, stride=2)
        self.stages = nn.ModuleList()
        stage_strides, stage_widths = [], []
        stride = 2
        for t, c, n, s in arch:
            out = make_divisible(c * widen_factor)
            blocks = [InvertedResidual(width if i == 0 else out, out, s if i == 0 else 1, t)
                      for i in range(n)]
            self.stages.append(nn.Sequential(*blocks))
            width, stride = out, stride * s
            stage_strides.append(stride)
            stage_widths.append(out)
        if out_stride not in stage_strides:
            raise ValueError(f'out_stride {out_stride} is not a stride an encoder stage ends at '
                             f'({sorted(set(stage_strides))})')
        self.out_stride = out_stride
        # The last stage of each stride feeds the decoder step at that stride.
        self._skip_index = {s: max(i for i, t in enumerate(stage_strides) if t == s)
                            for s in set(stage_strides)}
        self.neck = conv_bn_relu(width, head_channels, kernel_size=1)
        self._decoder_strides = [s for s in sorted(set(stage_strides), reverse=True)
                                 if out_stride <= s < stride]
        self.decoder = nn.ModuleList(
            DecoderStep(stage_widths[self._skip_index[s]], head_channels)
            for s in self._decoder_strides)
        self.final_layer = nn.Conv2d(head_channels, num_keypoints, kernel_size=1)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convs (fan_out, as torchvision's MobileNetV2), BN 1/0, and the
        heatmap conv N(0, 0.001) with zero bias like mmpose's heatmap heads: the first maps are
        ~0 instead of noise."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """Image -> the decoder's last map (``head_channels`` at ``out_stride``)."""
        x = self.stem(x)
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        x = self.neck(x)
        for stride, step in zip(self._decoder_strides, self.decoder):
            x = step(x, skips[self._skip_index[stride]])
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.final_layer(self.forward_features(x))
