"""pix2pix's PatchGAN discriminator (``n_layers``), on ``cat[RGB, depth]`` for DGGAN.

Layout for ``num_layers = 3`` (the default "70x70" PatchGAN): 4x4 stride-2 conv to ``ndf`` +
LeakyReLU(0.2) (no norm on the first layer); 4x4 stride-2 convs to 2 ``ndf`` and 4 ``ndf``; one
4x4 stride-1 conv to 8 ``ndf``; each of these with norm and LeakyReLU(0.2); a 4x4 stride-1 conv
to one channel: a map of per-patch **logits** (no sigmoid; :class:`GANLoss` takes logits).
Widths are capped at 8 ``ndf``; padding 1 throughout. DGGAN: 4 input channels (RGB + depth),
``ndf`` 64, InstanceNorm (no affine parameters).
"""
from __future__ import annotations

from torch import Tensor, nn

from poseforge.models.dggan.generator import init_gan_weights, make_norm
from poseforge.registry import MODELS

__all__ = ['PatchDiscriminator']


@MODELS.register_module()
class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN: ``(B, in_channels, H, W)`` -> ``(B, 1, h, w)`` logits.

    Args:
        in_channels: 4 for ``cat[RGB, depth]``.
        ndf: width of the first layer (64).
        num_layers: stride-2 layers after the first (3).
        norm: ``'instance'`` (DGGAN) or ``'batch'``.
    """

    def __init__(self, in_channels: int = 4, ndf: int = 64, num_layers: int = 3,
                 norm: str = 'instance') -> None:
        super().__init__()
        bias = norm != 'batch'
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        width = ndf
        for n in range(1, num_layers + 1):
            out = ndf * min(2 ** n, 8)
            stride = 2 if n < num_layers else 1
            layers += [nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=bias),
                       make_norm(norm, out), nn.LeakyReLU(0.2, True)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_gan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
