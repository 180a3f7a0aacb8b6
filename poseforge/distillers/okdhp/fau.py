"""OKDHP's Feature Aggregation Unit: per-joint weights of the branches in the ensemble.

As the authors coded it (zhengli97/OKDHP ``hourglass_okd_share_less.py``, ``HourglassNet``'s
``convs`` / ``fc`` / ``fcs``): on the stem features, 3x3, 5x5 and 7x7 convolutions (C -> C,
biased, BatchNorm with PyTorch's default momentum, ReLU) summed; global average pooling;
``Linear(C, 64)`` without activation; one ``Linear(64, K)`` per branch; a softmax across the
branches for every joint. The paper's figure also has an average-pooling path beside the
convolutions, which the code lacks: ``avg_pool=True`` adds a 3x3 (stride 1) average pool of the
features to the sum.

The authors build one ``Linear(64, K)`` per *kernel* (``range(num_kernel)``), which equals the
number of branches only because both are 3; here it is one per branch, as intended.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class FeatureAggregationUnit(nn.Module):
    """Multi-kernel features -> ``(B, num_branches, K)`` weights, positive, summing to 1 over
    the branches for every joint.

    Args:
        in_channels: channels of the features it reads (256 for the authors' stem).
        num_branches: branches to weigh.
        num_keypoints: K.
        mid_channels: width of the bottleneck Linear (64).
        kernel_sizes: the convolutions' kernels (3, 5, 7).
        avg_pool: add the paper's 3x3 average-pool path to the sum.
    """

    def __init__(self, in_channels: int = 256, num_branches: int = 3, num_keypoints: int = 16,
                 mid_channels: int = 64, kernel_sizes: Sequence[int] = (3, 5, 7),
                 avg_pool: bool = False) -> None:
        super().__init__()
        if num_branches < 2:
            raise ValueError(f'the FAU weighs at least 2 branches, got {num_branches}')
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, in_channels, k, padding=k // 2),
                          nn.BatchNorm2d(in_channels), nn.ReLU())
            for k in kernel_sizes)
        self.avg_pool = avg_pool
        self.reduce = nn.Linear(in_channels, mid_channels)
        self.branch_fcs = nn.ModuleList(nn.Linear(mid_channels, num_keypoints)
                                        for _ in range(num_branches))

    def forward(self, feats: Tensor) -> Tensor:
        fused = sum(conv(feats) for conv in self.convs)
        if self.avg_pool:
            fused = fused + F.avg_pool2d(feats, 3, stride=1, padding=1)
        squeezed = self.reduce(fused.mean(dim=(-2, -1)))                        # (B, mid)
        logits = torch.stack([fc(squeezed) for fc in self.branch_fcs], dim=1)   # (B, N, K)
        return logits.float().softmax(dim=1)

    @staticmethod
    def aggregate(weights: Tensor, branch_heatmaps: Sequence[Tensor]) -> Tensor:
        """``sum_b weights[:, b, k] * heatmaps_b[:, k]``: ``(B, K, H, W)``."""
        stacked = torch.stack(list(branch_heatmaps), dim=1)                     # (B, N, K, H, W)
        return (stacked * weights.to(stacked.dtype)[..., None, None]).sum(dim=1)
