"""Training-curve plots (loss per iteration, validation metrics per evaluation)."""
from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from poseforge.utils.fileio import atomic_write_bytes  # noqa: E402


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> str:
    """Write a matplotlib figure atomically (format from the suffix): a run killed
    mid-write keeps the previous file, never a truncated one."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format=os.path.splitext(os.fspath(path))[1][1:] or 'png')
    atomic_write_bytes(buffer.getvalue(), path)
    return os.fspath(path)


def split_fraction_metrics(val: dict) -> tuple[dict, dict]:
    """Metrics that live in [0, 1] (PCK, AUC, AP) and the rest (EPE in px, mm, ...), so each
    group gets an axis whose scale shows its changes."""
    fractions, others = {}, {}
    for name, values in val.items():
        if name == 'step' or not values:
            continue
        (fractions if all(0.0 <= v <= 1.0 for v in values) else others)[name] = values
    return fractions, others


def plot_curves(history: dict, path: str | os.PathLike, title: str = '') -> str:
    """Write a PNG with the training loss (left) and the validation metrics (right).

    ``history`` is :class:`~poseforge.engine.hooks.CurveHistoryHook`'s record:
    ``{'train': {'iter': [...], 'loss': [...]}, 'val': {'step': [...], name: [...]}}``.
    Fractions (PCK, AUC) use the right plot's left axis, errors (EPE) its right axis.
    """
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    train = history.get('train', {})
    if train.get('iter'):
        ax_loss.plot(train['iter'], train['loss'], lw=0.8, color='tab:blue')
        ax_loss.set_yscale('log')
    ax_loss.set(xlabel='iteration', ylabel='training loss', title='loss')
    ax_loss.grid(alpha=0.3)

    val = history.get('val', {})
    steps = val.get('step', [])
    fractions, others = split_fraction_metrics(
        {k: v for k, v in val.items() if k == 'step' or len(v) == len(steps)})
    lines = []
    for name, values in fractions.items():
        lines += ax_val.plot(steps, values, marker='o', label=name)
    ax_val.set(xlabel='iteration', ylabel='PCK / AUC', title='validation')
    ax_val.grid(alpha=0.3)
    if others:
        ax_err = ax_val.twinx()
        for name, values in others.items():
            # Continue the colour cycle: a twin axis would restart it at the PCK's colour.
            lines += ax_err.plot(steps, values, marker='s', ls='--', label=name,
                                 color=f'C{len(lines)}')
        ax_err.set_ylabel('error (' + ', '.join(others) + ')')
    if lines:
        ax_val.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc='center right')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return os.fspath(path)
