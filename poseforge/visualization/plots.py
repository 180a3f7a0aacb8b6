"""Training-curve plots (loss per iteration, validation metrics per evaluation)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(history: dict, path: str | os.PathLike, title: str = '') -> str:
    """Write a PNG with the training loss (left) and each validation metric (right).

    ``history`` is :class:`~poseforge.engine.hooks.CurveHistoryHook`'s record:
    ``{'train': {'iter': [...], 'loss': [...]}, 'val': {'epoch' or 'iter': [...], name: [...]}}``.
    """
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    train = history.get('train', {})
    if train.get('iter'):
        ax_loss.plot(train['iter'], train['loss'], lw=0.8, color='tab:blue', label='loss')
        ax_loss.set_yscale('log')
    ax_loss.set_xlabel('iteration')
    ax_loss.set_ylabel('training loss')
    ax_loss.grid(alpha=0.3)
    val = history.get('val', {})
    steps = val.get('step', [])
    for name, values in val.items():
        if name != 'step' and len(values) == len(steps):
            ax_val.plot(steps, values, marker='o', label=name)
    ax_val.set_xlabel('iteration')
    ax_val.set_ylabel('validation metric')
    ax_val.grid(alpha=0.3)
    if steps:
        ax_val.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.fspath(path)
