"""Attribution maps of heatmap pose models, and model transferability from them.

Song et al., "Deep model transferability from attribution maps" (NeurIPS 2019, arXiv
1909.11902; zju-vipa/TransferbilityFromAttributionMaps) and DEPARA (arXiv 2003.07496): two
models whose attribution maps on the same probe images look alike have learnt related
knowledge, so the affinity of a candidate model to a target model (the mean cosine similarity of
their attribution maps) ranks which pre-trained model will transfer, or distil, best, without
training anything.

For a pose model the output to attribute is each keypoint's heatmap *peak*: the objective is
``sum_k max_{pixels} H_k(x)`` per image (the value the decoder's argmax reads), and

* ``'gradient_x_input'``: ``x * d objective / d x`` (Shrikumar et al.), summed over the colour
  channels to one ``(H, W)`` map;
* ``'saliency'``: ``|d objective / d x|`` (Simonyan et al.), the maximum over the channels.

``x`` is the network's normalised input crop. Models that take crops of different sizes (of the
same framing) have their maps resized (bilinear) to a common size before comparing.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

METHODS = ('gradient_x_input', 'saliency')

HeatmapFn = Callable[[Tensor], Tensor]


def estimator_heatmaps(estimator: torch.nn.Module) -> HeatmapFn:
    """``x -> (B, K, h, w)`` last-stage heatmaps of a poseforge estimator (no flip test)."""
    def heatmaps(x: Tensor) -> Tensor:
        return estimator.head.predict(estimator(x, mode='tensor'))
    return heatmaps


def peak_objective(heatmaps: Tensor) -> Tensor:
    """``(B,)``: the sum over keypoints of each heatmap's maximum."""
    return heatmaps.flatten(2).amax(-1).sum(-1)


def attribution_maps(heatmap_fn: HeatmapFn, inputs: Tensor, method: str = 'gradient_x_input'
                     ) -> Tensor:
    """``(B, H, W)`` attribution of each image's keypoint peaks to its input pixels.

    Args:
        heatmap_fn: ``x -> (B, K, h, w)`` (e.g. :func:`estimator_heatmaps`); evaluated once with
            gradients on ``x`` (the model's own parameters are not changed).
        inputs: ``(B, C, H, W)`` normalised crops.
        method: ``'gradient_x_input'`` or ``'saliency'``.
    """
    if method not in METHODS:
        raise ValueError(f'attribution method must be one of {METHODS}, got {method!r}')
    x = inputs.detach().clone().float().requires_grad_(True)
    with torch.enable_grad():
        objective = peak_objective(heatmap_fn(x)).sum()
        (grad,) = torch.autograd.grad(objective, x)
    if method == 'gradient_x_input':
        return (grad * x.detach()).sum(1)
    return grad.abs().amax(1)


def resize_maps(maps: Tensor, size: Sequence[int]) -> Tensor:
    """``(B, H, W)`` maps at ``size`` ``(H', W')`` (bilinear; unchanged when equal)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=tuple(size), mode='bilinear',
                         align_corners=False)[:, 0]


def cosine_per_sample(a: Tensor, b: Tensor) -> Tensor:
    """``(B,)`` cosine similarity of each sample's flattened maps (0 where one is all zeros)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    norm = a.norm(dim=1) * b.norm(dim=1)
    dot = (a * b).sum(1)
    return torch.where(norm > 0, dot / norm.clamp_min(1e-300), torch.zeros_like(dot))


def affinity_matrix(maps: Mapping[str, Tensor]) -> tuple[list[str], np.ndarray]:
    """``(names, A)``: ``A[i, j]`` = mean over probe images of the cosine similarity of models
    ``i`` and ``j``'s attribution maps (``(N, H, W)`` each, same size). Symmetric, 1 on the
    diagonal (for non-zero maps)."""
    names = list(maps)
    n = len(names)
    out = np.eye(n, dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            value = float(cosine_per_sample(maps[names[i]], maps[names[j]]).mean())
            out[i, j] = out[j, i] = value
    return names, out


def rank_candidates(names: Sequence[str], affinity: np.ndarray, target: str
                    ) -> list[tuple[str, float]]:
    """The other models by decreasing affinity to ``target``: the order in which to try them
    as teachers (or sources of transfer) for it."""
    if target not in names:
        raise ValueError(f"target '{target}' is not one of the models: {', '.join(names)}")
    t = list(names).index(target)
    pairs = [(name, float(affinity[t, i])) for i, name in enumerate(names) if i != t]
    return sorted(pairs, key=lambda pair: -pair[1])


def plot_affinity(names: Sequence[str], affinity: np.ndarray, path: str, title: str = '') -> str:
    """A figure: the affinity matrix as a heatmap (values printed) and the dendrogram of the
    models (average linkage on ``1 - affinity``). Returns ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    n = len(names)
    fig, (ax_m, ax_d) = plt.subplots(1, 2, figsize=(6 + 1.1 * n, 0.9 * n + 3),
                                     gridspec_kw=dict(width_ratios=[1.2, 1]))
    image = ax_m.imshow(affinity, cmap='viridis', vmin=min(0.0, float(affinity.min())), vmax=1)
    ax_m.set_xticks(range(n), names, rotation=45, ha='right', fontsize=8)
    ax_m.set_yticks(range(n), names, fontsize=8)
    for i in range(n):
        for j in range(n):
            ax_m.text(j, i, f'{affinity[i, j]:.2f}', ha='center', va='center', fontsize=7,
                      color='white' if affinity[i, j] < 0.6 else 'black')
    fig.colorbar(image, ax=ax_m, fraction=0.046, pad=0.04, label='affinity (mean cosine)')
    ax_m.set_title('attribution-map affinity')
    if n >= 2:
        distance = np.clip(1.0 - (affinity + affinity.T) / 2.0, 0.0, None)
        np.fill_diagonal(distance, 0.0)
        dendrogram(linkage(squareform(distance, checks=False), method='average'),
                   labels=list(names), orientation='right', ax=ax_d, leaf_font_size=8)
        ax_d.set_xlabel('1 - affinity')
    ax_d.set_title('model tree')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from poseforge.visualization.plots import save_figure
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
