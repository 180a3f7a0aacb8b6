"""pix2pix's ResNet generator (Johnson et al. 2016 / Isola et al. 2017), as DGGAN uses it to
turn an RGB hand crop into a depth map.

Layout (``resnet_9blocks``): reflection pad 3, 7x7 conv to ``ngf``, norm, ReLU; two stride-2 3x3
convs doubling the width (``ngf`` -> 2 ``ngf`` -> 4 ``ngf``), each with norm and ReLU;
``num_blocks`` residual blocks at 4 ``ngf`` (reflection pad 1, 3x3 conv, norm, ReLU, reflection
pad 1, 3x3 conv, norm, plus the input); two stride-2 3x3 transposed convs halving the width back
to ``ngf``, each with norm and ReLU; reflection pad 3, 7x7 conv to the output channels, tanh.
Convs before a BatchNorm have no bias (its shift replaces it), before an InstanceNorm (no affine
parameters) they do, as in pix2pix. Weights N(0, 0.02), norm scales N(1, 0.02) (pix2pix's
``init_type='normal'``). DGGAN: 3 -> 1 channels, ``ngf`` 64, BatchNorm, 9 blocks.
"""
from __future__ import annotations

from torch import Tensor, nn

from poseforge.registry import MODELS

__all__ = ['ResnetGenerator', 'make_norm', 'init_gan_weights']


def make_norm(kind: str, channels: int) -> nn.Module:
    """``'batch'`` (affine), ``'instance'`` (no affine parameters, as pix2pix) or ``'none'``."""
    if kind == 'batch':
        return nn.BatchNorm2d(channels)
    if kind == 'instance':
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == 'none':
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {kind!r}")


def init_gan_weights(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix's ``normal`` init: conv / linear weights N(0, std), biases 0, BN scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class ResnetBlock(nn.Module):
    """``x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)``."""

    def __init__(self, channels: int, norm: str, dropout: float = 0.0) -> None:
        super().__init__()
        bias = norm != 'batch'
        layers: list[nn.Module] = [nn.ReflectionPad2d(1),
                                   nn.Conv2d(channels, channels, 3, bias=bias),
                                   make_norm(norm, channels), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
                   make_norm(norm, channels)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


@MODELS.register_module()
class ResnetGenerator(nn.Module):
    """Image-to-image generator with ``num_blocks`` residual blocks at 1/4 resolution.

    Args:
        in_channels, out_channels: 3 (RGB) -> 1 (depth) for DGGAN.
        ngf: width of the first layer (64).
        num_blocks: residual blocks (9: ``resnet_9blocks``; 6: ``resnet_6blocks``).
        norm: ``'batch'`` (DGGAN's generator) or ``'instance'``.
        dropout: dropout in the residual blocks (pix2pix's ``--no_dropout`` default is off for
            ResNet generators here: 0).
    Input sides must be multiples of 4.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1, ngf: int = 64,
                 num_blocks: int = 9, norm: str = 'batch', dropout: float = 0.0) -> None:
        super().__init__()
        bias = norm != 'batch'
        layers: list[nn.Module] = [nn.ReflectionPad2d(3),
                                   nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                   make_norm(norm, ngf), nn.ReLU(True)]
        width = ngf
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, stride=2, padding=1, bias=bias),
                       make_norm(norm, width * 2), nn.ReLU(True)]
            width *= 2
        layers += [ResnetBlock(width, norm, dropout) for _ in range(num_blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1,
                                          output_padding=1, bias=bias),
                       make_norm(norm, width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_gan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f'ResnetGenerator needs sides divisible by 4, got '
                             f'{tuple(x.shape[-2:])}')
        return self.model(x)
