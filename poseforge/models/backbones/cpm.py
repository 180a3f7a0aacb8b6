"""Convolutional Pose Machine (Wei et al., CVPR 2016), hand variant used by NSRM.

``arch='vgg19'`` is the network of the NSRM authors' ``CPM/cpm.py`` (HowieMa/NSRMhand):

* trunk: torchvision ``vgg19.features[:27]`` (conv1_1 .. conv4_4, 3x3 conv + ReLU, 2x2 max-pool
  after conv1_2, conv2_2 and conv3_4), then conv5_1, conv5_2 (3x3, 512) and conv5_3 (3x3, 128),
  each + ReLU: stride 8, a 368x368 crop gives 128 x 46 x 46 features;
* stage 1: 1x1 conv to 512 + ReLU, 1x1 conv to K maps;
* stage t >= 2: ``cat[features, maps of stage t-1]`` -> five 7x7 convs (pad 3, 128 ch, ReLU) ->
  1x1 to 128 + ReLU -> 1x1 to K maps;
* six stages; :meth:`CPM.forward` returns every stage's maps (intermediate supervision). The
  original stacks them into one ``(B, 6, K, h, w)`` tensor; a list of ``(B, K, h, w)`` keeps each
  stage in the memory format of the convolutions (channels_last stays channels_last).

With K = 21 it has 36,799,806 parameters. The trunk is one ``nn.Sequential`` laid out exactly as
torchvision's ``vgg19.features`` (``trunk.0`` = ``features.0`` = conv1_1, ...), so ImageNet
weights in torchvision's key layout load by index (``pretrained='path/to/vgg19.pth'``).

``arch='light'`` / ``'light_s8'`` are small, BatchNorm-ed variants of the same design (three
stages, 64 channels, dilated 3x3 refinement convs) for CPU quick starts; see ``ARCH_SETTINGS``.

Initialisation (not part of the architecture; the original relies on torchvision's VGG init
for the trunk and PyTorch defaults elsewhere): convs get Kaiming-normal (fan_out, ReLU) like
torchvision's VGG, biases zero, and the last 1x1 conv of every stage N(0, 0.001) like mmpose's
heatmap heads, so that the first maps are ~0 and do not inject noise into the next stage.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import Tensor, nn

from poseforge.registry import MODELS

#: A trunk layer: ``'M'`` = 2x2 max-pool (stride 2); ``c`` = 3x3 conv to ``c`` channels (stride
#: 1); ``(c, s)`` = 3x3 conv to ``c`` channels with stride ``s``. Every conv is followed by
#: [BatchNorm +] ReLU. The same notation as torchvision's VGG ``cfgs``.
TrunkLayer = Union[str, int, tuple[int, int]]

#: torchvision ``vgg19.features[:27]``: conv1_1 .. conv4_4 with the three max-pools.
VGG19_CONV1_TO_CONV4: tuple[TrunkLayer, ...] = (
    64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512)
#: Number of ``vgg19.features`` modules (conv, ReLU and pool each count one) the trunk reuses.
VGG19_NUM_FEATURE_LAYERS = 27


@dataclass(frozen=True)
class CPMArch:
    """One row of the architecture table.

    Attributes:
        trunk: feature extractor layers (see :data:`TrunkLayer`).
        trunk_norm: BatchNorm after every trunk conv.
        stage1_channels: width of stage 1's hidden 1x1 conv.
        stage_channels: width of the convs of stages t >= 2.
        stage_kernel: kernel size of those convs (padding keeps the size).
        stage_dilations: one dilation per large conv of a stage t >= 2 (their count).
        stage_norm: BatchNorm after every hidden conv of every stage.
        num_stages: number of stages (stage 1 included).
        torchvision_vgg19: the trunk's first 27 modules match ``vgg19.features[:27]``, so
            ImageNet weights can be loaded.
    """

    trunk: tuple[TrunkLayer, ...]
    trunk_norm: bool = False
    stage1_channels: int = 512
    stage_channels: int = 128
    stage_kernel: int = 7
    stage_dilations: tuple[int, ...] = (1, 1, 1, 1, 1)
    stage_norm: bool = False
    num_stages: int = 6
    torchvision_vgg19: bool = False


ARCH_SETTINGS: dict[str, CPMArch] = {
    # NSRM's hand CPM (CPM/cpm.py): VGG19 to conv4_4 + conv5_1..5_3, six stages, stride 8.
    'vgg19': CPMArch(trunk=VGG19_CONV1_TO_CONV4 + (512, 512, 128), torchvision_vgg19=True),
    # CPU quick start, stride 4 (128 -> 32x32 maps, 192 -> 48x48): a strided stem, 64-ch
    # features, three stages of dilated 3x3 convs (receptive field 15 cells per stage, a 7x7
    # stack's reach at a fraction of its cost on CPU, where depthwise convs are slow).
    'light': CPMArch(trunk=((32, 2), 32, 'M', 64, 64, 64), trunk_norm=True,
                     stage1_channels=128, stage_channels=64, stage_kernel=3,
                     stage_dilations=(1, 2, 4), stage_norm=True, num_stages=3),
    # The same at stride 8 (192 -> 24x24 maps, 256 -> 32x32), with 128-ch features.
    'light_s8': CPMArch(trunk=((32, 2), 32, 'M', 64, 64, 'M', 128, 128), trunk_norm=True,
                        stage1_channels=128, stage_channels=64, stage_kernel=3,
                        stage_dilations=(1, 2, 4), stage_norm=True, num_stages=3),
}


def _as_tuple(value: object) -> object:
    """Lists (also nested, e.g. trunk ``[[32, 2], 'M']``) -> tuples; anything else as is."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _conv_block(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                dilation: int = 1, norm: bool = False) -> list[nn.Module]:
    """Conv [+ BN] + ReLU, 'same' padding. Without BN the conv has a bias (as in the original)."""
    padding = dilation * (kernel_size - 1) // 2
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                         padding, dilation, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return layers


def build_trunk(layers: Sequence[TrunkLayer], in_channels: int = 3,
                norm: bool = False) -> tuple[nn.Sequential, int, int]:
    """The feature extractor as one flat ``nn.Sequential`` (torchvision VGG layout).

    Returns:
        ``(trunk, out_channels, stride)``.
    """
    modules: list[nn.Module] = []
    channels, stride = in_channels, 1
    for layer in layers:
        if layer == 'M':
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            stride *= 2
            continue
        out_channels, conv_stride = (layer, 1) if isinstance(layer, int) else layer
        modules += _conv_block(channels, out_channels, 3, conv_stride, norm=norm)
        channels, stride = out_channels, stride * conv_stride
    return nn.Sequential(*modules), channels, stride


class InitialStage(nn.Sequential):
    """Stage 1: 1x1 conv + [BN] + ReLU, 1x1 conv to the keypoint maps (NSRM ``Stage1``)."""

    def __init__(self, in_channels: int, hidden_channels: int, num_keypoints: int,
                 norm: bool = False) -> None:
        super().__init__(*_conv_block(in_channels, hidden_channels, 1, norm=norm),
                         nn.Conv2d(hidden_channels, num_keypoints, 1))


class RefinementStage(nn.Sequential):
    """Stage t >= 2 on ``cat[features, previous maps]`` (NSRM ``Stage``).

    ``len(dilations)`` large convs (``kernel`` x ``kernel``), a 1x1 conv of the same width, both
    + [BN] + ReLU, then a 1x1 conv to the keypoint maps.
    """

    def __init__(self, in_channels: int, channels: int, num_keypoints: int, kernel: int,
                 dilations: Sequence[int], norm: bool = False) -> None:
        layers: list[nn.Module] = []
        for i, dilation in enumerate(dilations):
            layers += _conv_block(in_channels if i == 0 else channels, channels, kernel,
                                  dilation=dilation, norm=norm)
        layers += _conv_block(channels, channels, 1, norm=norm)
        layers.append(nn.Conv2d(channels, num_keypoints, 1))
        super().__init__(*layers)


@MODELS.register_module()
class CPM(nn.Module):
    """Convolutional Pose Machine backbone; returns every stage's heatmaps.

    Args:
        arch: a key of :data:`ARCH_SETTINGS` or a :class:`CPMArch` / dict of its fields.
        num_keypoints: K, maps per stage.
        in_channels: image channels.
        num_stages: overrides the table's number of stages.
        stage_channels: overrides the table's width of the stages t >= 2.
        pretrained: path of an ImageNet VGG19 state dict in torchvision's key layout
            (``features.0.weight``, ...); ``arch='vgg19'`` only.

    Attributes:
        stride: input pixels per heatmap cell.
        feat_channels: channels of the trunk's features.
    """

    def __init__(self, arch: str | CPMArch | dict = 'vgg19', num_keypoints: int = 21,
                 in_channels: int = 3, num_stages: int | None = None,
                 stage_channels: int | None = None,
                 pretrained: str | PathLike | None = None) -> None:
        super().__init__()
        self.arch = self._resolve_arch(arch, num_stages, stage_channels)
        if self.arch.num_stages < 1:
            raise ValueError(f'CPM needs at least one stage, got {self.arch.num_stages}')
        self.num_keypoints = num_keypoints
        self.trunk, self.feat_channels, self.stride = build_trunk(
            self.arch.trunk, in_channels, self.arch.trunk_norm)
        self.stages = nn.ModuleList([InitialStage(
            self.feat_channels, self.arch.stage1_channels, num_keypoints, self.arch.stage_norm)])
        for _ in range(1, self.arch.num_stages):
            self.stages.append(RefinementStage(
                self.feat_channels + num_keypoints, self.arch.stage_channels, num_keypoints,
                self.arch.stage_kernel, self.arch.stage_dilations, self.arch.stage_norm))
        self._init_weights()
        if pretrained is not None:
            if not self.arch.torchvision_vgg19 or in_channels != 3:
                raise ValueError('pretrained= loads torchvision VGG19 weights: it needs '
                                 "arch='vgg19' and in_channels=3")
            self.load_vgg19(pretrained)

    @staticmethod
    def _resolve_arch(arch: str | CPMArch | dict, num_stages: int | None,
                      stage_channels: int | None) -> CPMArch:
        if isinstance(arch, str):
            if arch not in ARCH_SETTINGS:
                raise KeyError(f"Unknown CPM arch '{arch}'; known: {', '.join(ARCH_SETTINGS)}")
            arch = ARCH_SETTINGS[arch]
        elif isinstance(arch, dict):  # configs turn tuples into lists: restore them
            arch = CPMArch(**{k: _as_tuple(v) for k, v in arch.items()})
        overrides = {k: v for k, v in (('num_stages', num_stages),
                                       ('stage_channels', stage_channels)) if v is not None}
        return replace(arch, **overrides)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for stage in self.stages:
            nn.init.normal_(stage[-1].weight, std=0.001)

    def load_vgg19(self, path: str | PathLike) -> None:
        """Copy conv1_1 .. conv4_4 of a torchvision-layout VGG19 state dict into the trunk.

        ``features.{i}.weight`` / ``.bias`` for the convs among ``features[:27]`` land in
        ``trunk.{i}``; every one must be present with the trunk's shape. Loaded with
        ``weights_only=True``: a file that needs arbitrary unpickling is refused.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'CPM pretrained VGG19 weights not found: {path}')
        state = torch.load(path, map_location='cpu', weights_only=True)
        if isinstance(state, dict) and 'state_dict' in state:
            state = state['state_dict']
        if not isinstance(state, dict):
            raise ValueError(f'{path}: expected a state dict, got {type(state).__name__}')
        wanted = {f'features.{i}.{name}': param
                  for i, layer in enumerate(self.trunk[:VGG19_NUM_FEATURE_LAYERS])
                  if isinstance(layer, nn.Conv2d)
                  for name, param in layer.named_parameters()}
        missing = [key for key in wanted if key not in state]
        if missing:
            raise KeyError(f'{path} is not a torchvision VGG19 state dict: missing '
                           f'{", ".join(missing)}')
        wrong = [f'{key}: file {tuple(state[key].shape)} vs model {tuple(param.shape)}'
                 for key, param in wanted.items() if state[key].shape != param.shape]
        if wrong:
            raise ValueError(f'{path} does not match VGG19 conv1_1..conv4_4: '
                             + '; '.join(wrong))
        with torch.no_grad():
            for key, param in wanted.items():
                param.copy_(state[key])

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, C, H, W)`` -> list of ``num_stages`` maps ``(B, K, H/stride, W/stride)``."""
        features = self.trunk(x)
        maps = self.stages[0](features)
        outputs = [maps]
        for stage in self.stages[1:]:
            maps = stage(torch.cat([features, maps], dim=1))
            outputs.append(maps)
        return outputs
