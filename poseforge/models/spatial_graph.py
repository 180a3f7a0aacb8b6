"""Spatial graph operations on keypoint confidence maps, shared by SIA-GCN
(:mod:`poseforge.models.backbones.sia_gcn`) and R-MGMN's belief propagation
(:mod:`poseforge.models.rmgmn.belief_propagation`).

The graph's nodes are keypoints whose features are whole ``H x W`` maps; each directed edge
``s -> r`` of the kinematic tree carries a 2D kernel ``K`` (odd sides, centre ``c``) read as
"``r`` lies ``d`` cells from ``s`` where ``K[c + d]`` is large". Sending ``s``'s map along the
edge is then a true 2D *convolution* with ``K`` (:func:`spatial_convolution`), computed by
``conv2d`` (a cross-correlation) on the flipped kernel, for every edge and sample in one grouped
convolution.

Directed edge order (the kernel channel order everywhere in poseforge): for ``limbs = [(a_0,
b_0), ..., (a_{L-1}, b_{L-1})]``, edge ``e < L`` is ``a_e -> b_e`` and edge ``L + e`` is
``b_e -> a_e``.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor


def directed_edges(limbs: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Both directions of every limb: ``a_e -> b_e`` for all limbs, then ``b_e -> a_e``."""
    forward = [(int(a), int(b)) for a, b in limbs]
    return forward + [(b, a) for a, b in forward]


def reverse_edge_index(num_limbs: int) -> list[int]:
    """``reverse[e]`` is the id of edge ``e`` in the other direction (module docstring order)."""
    return [(e + num_limbs) % (2 * num_limbs) for e in range(2 * num_limbs)]


def spatial_convolution(maps: Tensor, kernels: Tensor) -> Tensor:
    """True 2D convolution (zero padding, 'same' size) of each map with its own kernel.

    Args:
        maps: ``(B, C, H, W)``.
        kernels: ``(C, kh, kw)`` shared by the batch, or ``(B, C, kh, kw)`` one set per sample
            (the batch is folded into the groups of a single grouped convolution).
    Returns:
        ``(B, C, H, W)`` with ``out[b, c](y) = sum_x maps[b, c](x) * K[c][y - x + centre]``.
    """
    b, c, h, w = maps.shape
    kh, kw = kernels.shape[-2:]
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f'spatial kernels need odd sizes (a centre cell), got {kh}x{kw}')
    padding = (kh // 2, kw // 2)
    weight = kernels.flip(-2, -1)
    if kernels.ndim == 3:
        if kernels.shape[0] != c:
            raise ValueError(f'{kernels.shape[0]} kernels for {c} maps')
        return F.conv2d(maps, weight.unsqueeze(1).to(maps.dtype), padding=padding, groups=c)
    if kernels.ndim != 4 or kernels.shape[:2] != (b, c):
        raise ValueError(f'per-sample kernels must be ({b}, {c}, kh, kw), got '
                         f'{tuple(kernels.shape)}')
    out = F.conv2d(maps.reshape(1, b * c, h, w), weight.reshape(b * c, 1, kh, kw).to(maps.dtype),
                   padding=padding, groups=b * c)
    return out.reshape(b, c, h, w)

