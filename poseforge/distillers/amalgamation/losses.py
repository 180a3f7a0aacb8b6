"""The terms of knowledge amalgamation on heatmaps: common features, MMD, ambiguity, selection.

* Common feature learning (Luo et al., IJCAI 2019, arXiv 1906.10546 / 1908.07121 as in
  zju-vipa/KamalEngine ``CommonFeatureLearning``): the student's and every teacher's feature
  maps are projected by their own 1x1 alignment conv (+ BatchNorm + ReLU) into a space of ``C_h``
  channels and through one *shared* extractor; the student's common feature is pulled to each
  teacher's by a multi-kernel MMD, and each teacher's common feature must reconstruct that
  teacher's original feature (a 1x1 decoder per teacher, MSE), so the shared space keeps what
  each teacher knows. :class:`CommonFeatureBlock` holds these modules, :func:`multi_kernel_mmd`
  and :func:`reconstruction_mse` are the two losses.
* Selective amalgamation (Shen et al., "Customizing student networks from heterogeneous
  teachers via adaptive knowledge amalgamation", arXiv 1908.07121): learn each sample from the
  teacher that is least ambiguous on it. For heatmaps the ambiguity of a map is the entropy of
  its (rectified, normalised) pixel distribution: a single sharp peak has low entropy, a
  spread-out or multi-peaked map high. :func:`heatmap_ambiguity` computes it per keypoint;
  :func:`select_targets` picks, per sample (all shared keypoints from one teacher) or per
  keypoint, the least ambiguous teacher among those that know a keypoint.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: KamalEngine's CFL kernel bandwidths (on L2-normalised features)
DEFAULT_SIGMAS = (0.001, 0.01, 0.05, 0.1, 0.2, 1.0, 2.0)


def multi_kernel_mmd(x: Tensor, y: Tensor, sigmas: Sequence[float] = DEFAULT_SIGMAS,
                     normalize: bool = True) -> Tensor:
    """Biased squared MMD between two batches under a sum of Gaussian kernels.

    Each sample's feature map is flattened to one vector (L2-normalised when ``normalize``),
    ``k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2))`` and
    ``MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)`` over all pairs, clipped at 0.

    Args:
        x / y: ``(B, ...)`` batches of the same size.
    """
    a = x.float().flatten(1)
    b = y.float().flatten(1)
    if normalize:
        a = F.normalize(a, dim=1)
        b = F.normalize(b, dim=1)
    both = torch.cat([a, b])
    dist2 = torch.cdist(both, both).square()
    kernel = sum(torch.exp(-dist2 / (2.0 * float(s) ** 2)) for s in sigmas)
    n = a.shape[0]
    k_xx, k_yy, k_xy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return torch.relu(k_xx.mean() + k_yy.mean() - 2.0 * k_xy.mean())


def reconstruction_mse(reconstructed: Tensor, original: Tensor) -> Tensor:
    """Mean squared error of a teacher feature rebuilt from its common feature."""
    return F.mse_loss(reconstructed.float(), original.float().detach())


def heatmap_ambiguity(maps: Tensor, eps: float = 1e-8) -> Tensor:
    """``(B, K)`` entropy (nats) of each map's rectified pixel distribution ``relu(h) / sum``.

    A map with no positive pixel is maximally ambiguous (``log(H W)``).
    """
    flat = torch.relu(maps.float().flatten(2))
    total = flat.sum(-1, keepdim=True)
    uniform = torch.full_like(flat, 1.0 / flat.shape[-1])
    prob = torch.where(total > eps, flat / total.clamp_min(eps), uniform)
    return -(prob * torch.log(prob.clamp_min(eps))).sum(-1)


def select_targets(maps: Tensor, known: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """The target map of every union keypoint, chosen among the teachers that know it.

    Args:
        maps: ``(T, B, K, H, W)`` every teacher's maps in the union layout (anything where
            a teacher does not know the keypoint).
        known: ``(T, K)`` bool, which teacher knows which keypoint.
        mode: ``'keypoint'``: per sample and keypoint, the least ambiguous teacher;
            ``'sample'``: per sample, the teacher with the lowest mean ambiguity over the
            keypoints it shares with another teacher, for all those keypoints; ``'mean'``: the
            average of the teachers that know it (no selection).
    Returns:
        ``targets (B, K, H, W)`` and ``chosen (B, K)`` (the teacher index; -1 where nobody
        knows the keypoint, whose target is zeros; for ``'mean'``: the first that knows it).
    """
    num_teachers, batch, num_kpt = maps.shape[:3]
    known = known.to(maps.device)
    known_b = known[:, None, :].expand(num_teachers, batch, num_kpt)  # (T, B, K)
    if mode == 'mean':
        weights = known_b.float()
        count = weights.sum(0).clamp_min(1.0)
        targets = (maps * weights[..., None, None]).sum(0) / count[..., None, None]
        first = torch.where(known.any(0), known.float().argmax(0), torch.full_like(
            known[0], -1, dtype=torch.long))
        return targets, first[None].expand(batch, num_kpt)
    ambiguity = heatmap_ambiguity(maps.flatten(0, 1)).reshape(num_teachers, batch, num_kpt)
    inf = torch.finfo(ambiguity.dtype).max
    ambiguity = torch.where(known_b, ambiguity, torch.full_like(ambiguity, inf))
    if mode == 'keypoint':
        chosen = ambiguity.argmin(0)  # (B, K)
    elif mode == 'sample':
        shared = known.sum(0) > 1  # (K,)
        chosen = ambiguity.argmin(0)  # keypoints of one teacher: that teacher
        if bool(shared.any()):
            per_sample = torch.where(shared, ambiguity, torch.zeros_like(ambiguity))
            per_sample = per_sample.sum(-1) / shared.sum()  # (T, B)
            # a teacher that misses a shared keypoint cannot serve the whole set
            covers = known[:, shared].all(1)[:, None].expand(num_teachers, batch)
            per_sample = torch.where(covers, per_sample, torch.full_like(per_sample, inf))
            best = per_sample.argmin(0)  # (B,)
            chosen = torch.where(shared[None, :], best[:, None].expand(batch, num_kpt), chosen)
    else:
        raise ValueError(f"selection mode must be 'keypoint', 'sample' or 'mean', got {mode!r}")
    targets = torch.gather(maps, 0, chosen[None, :, :, None, None].expand(
        1, batch, num_kpt, *maps.shape[-2:]))[0]
    nobody = ~known.any(0)
    if bool(nobody.any()):
        targets = torch.where(nobody[None, :, None, None], torch.zeros_like(targets), targets)
        chosen = torch.where(nobody[None, :], torch.full_like(chosen, -1), chosen)
    return targets, chosen


class _ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2,
                                   bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class CommonFeatureBlock(nn.Module):
    """Alignment convs into a common space, a shared extractor, a decoder per teacher.

    Args:
        student_channels: channels of the student's feature.
        teacher_channels: channels of each teacher's feature.
        hidden: ``C_h``, the common space's width (KamalEngine: the student's width / 4).
    """

    def __init__(self, student_channels: int, teacher_channels: Sequence[int],
                 hidden: int) -> None:
        super().__init__()
        self.align_student = _ConvBNReLU(student_channels, hidden)
        self.align_teachers = nn.ModuleList(_ConvBNReLU(c, hidden) for c in teacher_channels)
        self.extractor = nn.Sequential(_ConvBNReLU(hidden, hidden, 3),
                                       _ConvBNReLU(hidden, hidden, 3))
        self.decoders = nn.ModuleList(
            nn.Sequential(_ConvBNReLU(hidden, hidden), nn.Conv2d(hidden, c, 1))
            for c in teacher_channels)

    def forward(self, student: Tensor, teachers: Sequence[Tensor]
                ) -> tuple[Tensor, list[Tensor], list[Tensor], list[Tensor]]:
        """``(h_s, [h_t], [reconstructed f_t], [f_t])``; teacher features are resized to
        the student's feature size first (bilinear) when they differ (the returned ``f_t`` are
        the resized ones, the reconstruction targets)."""
        size = student.shape[-2:]
        teachers = [t if t.shape[-2:] == size else
                    F.interpolate(t, size=size, mode='bilinear', align_corners=False)
                    for t in teachers]
        common_s = self.extractor(self.align_student(student))
        common_t = [self.extractor(align(t.detach())) for align, t in
                    zip(self.align_teachers, teachers)]
        rebuilt = [decode(h) for decode, h in zip(self.decoders, common_t)]
        return common_s, common_t, rebuilt, [t.detach() for t in teachers]
