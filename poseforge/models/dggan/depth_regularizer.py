"""DGGAN's depth regulariser: a transposed-conv stack that renders a hand pose as a depth map.

Input: the pose as ``(B, K, 3)`` rows ``(u, v, d)`` (``pose_uvd`` of
:class:`~poseforge.datasets.transforms.depth.GenerateDepthTarget`: 2D in units of the crop's
width / height, and the relative depth on the normalised depth-map scale of
:class:`~poseforge.codecs.relative_depth.RelativeDepth`), flattened to a ``(B, 3K, 1, 1)``
"image". Layers (DGGAN's code, ``networks/DepthRegularizer.py``): ConvTranspose 3K -> 512, kernel
4 stride 4 (1 -> 4 px), then kernel-2 stride-2 ConvTransposes 512 -> 512 -> 256 -> 128 -> 64 ->
1 (4 -> 128 px), ReLU after every layer, weights U(-0.1, 0.1), biases 0. Trained alone first on
ground-truth (pose, depth map) pairs with L1, then used so that a predicted pose must render to
the depth map the GAN generates.

Where DGGAN's code fed it pixel coordinates next to depths normalised one way while its target
was normalised another (see ``docs/methods.md``), both sides here use one convention, so the
regulariser learns a consistent map. ``channels`` sets the stack (its length sets the output
size: ``4 * 2 ** len(channels)``), so tests can use a 64 x 64, narrow one.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from poseforge.registry import MODELS

__all__ = ['DepthRegularizer']


@MODELS.register_module()
class DepthRegularizer(nn.Module):
    """``(B, K, 3)`` pose -> ``(B, 1, S, S)`` depth map, ``S = 4 * 2 ** len(channels)``.

    Args:
        num_keypoints: K (input ``3K`` channels).
        channels: outputs of the 4x4 layer and of each 2x2 layer but the last (which outputs
            1): DGGAN ``(512, 512, 256, 128, 64)`` -> 128 x 128.
        init_range: weights ~ U(-init_range, init_range) (0.1 in DGGAN's code).
        final_relu: ReLU on the output, as the code (depth maps are >= 0).
    """

    def __init__(self, num_keypoints: int = 21,
                 channels: Sequence[int] = (512, 512, 256, 128, 64), init_range: float = 0.1,
                 final_relu: bool = True) -> None:
        super().__init__()
        if len(channels) < 1:
            raise ValueError('DepthRegularizer needs at least one layer width')
        self.num_keypoints = num_keypoints
        widths = [3 * num_keypoints, *channels, 1]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            k = 4 if i == 0 else 2
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=k, stride=k))
            if i < len(widths) - 2 or final_relu:
                layers.append(nn.ReLU(inplace=True))
        self.deconv = nn.Sequential(*layers)
        self.output_size = 4 * 2 ** len(channels)
        for m in self.deconv:
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def forward(self, pose_uvd: Tensor) -> Tensor:
        if pose_uvd.ndim != 3 or pose_uvd.shape[1:] != (self.num_keypoints, 3):
            raise ValueError(f'DepthRegularizer takes (B, {self.num_keypoints}, 3) poses, got '
                             f'{tuple(pose_uvd.shape)}')
        return self.deconv(pose_uvd.float().reshape(len(pose_uvd), -1, 1, 1))
