"""SIA-GCN: Spatial Information Aware Graph Convolutional Network on top of a CPM.

The graph's nodes are the K keypoints and each node's feature is its whole 2D confidence map
(not a vector). Along every directed kinematic edge ``j -> i`` a learnable 2D kernel
``K_{j->i}`` carries spatial information: neighbour ``j``'s map convolved with it votes for where
``i`` should be. One round updates every node at once::

    h_i' = f( (h_i + sum_{j in N(i)} K_{j->i} * h_j) / (1 + sum_{j in N(i)} |sum K_{j->i}|) )

with ``*`` the true 2D convolution of :func:`~poseforge.models.spatial_graph.spatial_convolution`
(``K[c + d]`` large means "``i`` lies ``d`` cells from ``j``", the convention of R-MGMN's
kernels) and ``f = ReLU``.

Choices (the paper's layer count, kernel size and normalisation are not in what we could read,
see ``docs/methods.md``; each is an option):

* ``num_rounds=2`` rounds with their own kernels, ``7x7`` kernels, both directions of each of
  the skeleton's limbs (40 kernels per round for ``hand21``).
* Normalisation (``normalize=True``): the sum is divided by ``1 +`` the total absolute mass of
  the kernels entering the node, so that when the kernels learn to be (non-negative) shifted
  blurs of the neighbours, the refined map stays a weighted average at the input's scale,
  whatever the node's degree (the wrist has 5 neighbours, a tip 1); a GCN degree normalisation
  that stays exactly 1 for zero kernels.
* ``f = ReLU`` (``activation='relu'``): confidence maps are non-negative. The CPM's last stage
  is unconstrained, so the node features start as ``ReLU(maps)``. Messages may be negative:
  the kernels can suppress a peak no neighbour supports.
* Kernels start at 0 (``kernel_init_std=0``): then every round is the identity on the
  (non-negative) node maps, so the refined output starts equal to ``ReLU`` of the CPM's last
  stage, and training learns corrections. This is the "identity edge kernels" setting:
  **zero kernels leave the node maps unchanged** (exactly, for any number of rounds).

Implementation: per round, one gather of the senders' maps into ``E`` channels, **one** grouped
convolution (``groups=E``), and one ``index_add`` into the receivers: no loop over edges.

:meth:`SIAGCN.forward` returns the CPM's stage maps followed by the refined maps, so
:class:`~poseforge.models.heads.MultiStageHeatmapHead` supervises every stage and predicts from
the refined one.
"""
from __future__ import annotations

from os import PathLike
from typing import Sequence

import torch
from torch import Tensor, nn

from poseforge.models.backbones.cpm import CPM, CPMArch
from poseforge.models.spatial_graph import directed_edges, spatial_convolution
from poseforge.registry import MODELS
from poseforge.skeletons import get_skeleton

_ACTIVATIONS = ('relu', 'none')


class GraphRefinement(nn.Module):
    """Rounds of spatial graph convolution over keypoint confidence maps (module docstring).

    Args:
        limbs: undirected ``(a, b)`` keypoint pairs; both directions get a kernel.
        num_keypoints: K (nodes).
        num_rounds: rounds of message passing, each with its own kernels.
        kernel_size: odd side of the square kernels.
        activation: ``'relu'`` (f = ReLU, also applied to the input maps) or ``'none'``.
        normalize: divide by ``1 +`` the incoming kernels' absolute mass.
        kernel_init_std: std of the kernels' normal initialisation; 0 = identity start.

    Attributes:
        kernels: ``(num_rounds, E, k, k)`` parameter, edge ``e`` in
            :func:`~poseforge.models.spatial_graph.directed_edges` order.
    """

    def __init__(self, limbs: Sequence[Sequence[int]], num_keypoints: int, num_rounds: int = 2,
                 kernel_size: int = 7, activation: str = 'relu', normalize: bool = True,
                 kernel_init_std: float = 0.0) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f'SIA-GCN kernel_size must be a positive odd number, got '
                             f'{kernel_size}')
        if num_rounds < 1:
            raise ValueError(f'SIA-GCN needs at least one round, got num_rounds={num_rounds}')
        if activation not in _ACTIVATIONS:
            raise ValueError(f"SIA-GCN activation must be one of {_ACTIVATIONS}, got "
                             f"'{activation}'")
        edges = directed_edges(limbs)
        if not edges:
            raise ValueError('SIA-GCN needs at least one limb')
        bad = [edge for edge in edges if not all(0 <= n < num_keypoints for n in edge)]
        if bad:
            raise ValueError(f'SIA-GCN limbs {bad} name keypoints outside 0..{num_keypoints - 1}')
        self.num_keypoints = num_keypoints
        self.activation = activation
        self.normalize = normalize
        self.register_buffer('senders', torch.tensor([s for s, _ in edges]), persistent=False)
        self.register_buffer('receivers', torch.tensor([r for _, r in edges]), persistent=False)
        self.kernels = nn.Parameter(torch.zeros(num_rounds, len(edges), kernel_size, kernel_size))
        if kernel_init_std > 0:
            nn.init.normal_(self.kernels, std=kernel_init_std)

    @property
    def num_rounds(self) -> int:
        return self.kernels.shape[0]

    def _act(self, maps: Tensor) -> Tensor:
        return maps.relu() if self.activation == 'relu' else maps

    def round(self, maps: Tensor, kernels: Tensor) -> Tensor:
        """One update of all nodes: gather senders, one grouped conv, scatter-add, normalise."""
        b, _, h, w = maps.shape
        messages = spatial_convolution(maps.index_select(1, self.senders), kernels)
        incoming = maps.new_zeros(b, self.num_keypoints, h, w).index_add(
            1, self.receivers, messages)
        total = maps + incoming
        if self.normalize:
            mass = kernels.sum(dim=(-2, -1)).abs().to(maps.dtype)  # (E,)
            degree = 1 + mass.new_zeros(self.num_keypoints).index_add(0, self.receivers, mass)
            total = total / degree[:, None, None]
        return self._act(total)

    def forward(self, maps: Tensor) -> Tensor:
        """``(B, K, h, w)`` confidence maps -> refined ``(B, K, h, w)``."""
        if maps.shape[1] != self.num_keypoints:
            raise ValueError(f'SIA-GCN expects {self.num_keypoints} maps, got {maps.shape[1]}')
        maps = self._act(maps)
        for kernels in self.kernels:
            maps = self.round(maps, kernels)
        return maps


@MODELS.register_module()
class SIAGCN(nn.Module):
    """CPM + spatial graph refinement of its last stage (module docstring).

    Args:
        arch / num_keypoints / in_channels / num_stages / stage_channels / pretrained: the
            :class:`~poseforge.models.backbones.CPM`'s arguments.
        skeleton: keypoint layout whose limbs are the graph's edges (``poseforge.skeletons``).
        limbs: explicit ``(a, b)`` pairs instead of the skeleton's.
        num_rounds / kernel_size / activation / normalize / kernel_init_std: see
            :class:`GraphRefinement`.

    Attributes:
        cpm: the CPM; ``graph``: the :class:`GraphRefinement`; ``stride``, ``feat_channels``
            as the CPM's.
    """

    def __init__(self, arch: str | CPMArch | dict = 'vgg19', num_keypoints: int = 21,
                 in_channels: int = 3, num_stages: int | None = None,
                 stage_channels: int | None = None, pretrained: str | PathLike | None = None,
                 skeleton: str = 'hand21', limbs: Sequence[Sequence[int]] | None = None,
                 num_rounds: int = 2, kernel_size: int = 7, activation: str = 'relu',
                 normalize: bool = True, kernel_init_std: float = 0.0) -> None:
        super().__init__()
        self.cpm = CPM(arch=arch, num_keypoints=num_keypoints, in_channels=in_channels,
                       num_stages=num_stages, stage_channels=stage_channels,
                       pretrained=pretrained)
        limbs = get_skeleton(skeleton).limbs if limbs is None else limbs
        self.graph = GraphRefinement(limbs, num_keypoints, num_rounds, kernel_size, activation,
                                     normalize, kernel_init_std)
        self.stride = self.cpm.stride
        self.feat_channels = self.cpm.feat_channels

    def forward(self, x: Tensor) -> list[Tensor]:
        """``(B, C, H, W)`` -> the CPM's stage maps + the refined maps (last), each
        ``(B, K, H/stride, W/stride)``."""
        stages = self.cpm(x)
        return stages + [self.graph(stages[-1])]
