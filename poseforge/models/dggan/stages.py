"""Chaining DGGAN's training stages in configs: each stage starts from the previous one."""
from __future__ import annotations

import os.path as osp

__all__ = ['last_checkpoint']


def last_checkpoint(work_dir: str, config: str | None = None) -> str:
    """The checkpoint a finished run left in ``work_dir`` (mmengine's ``last_checkpoint`` file).

    Used as ``load_from = last_checkpoint('work_dirs/<previous stage>')`` in a stage config,
    resolved when the config is read. When that run has not happened yet, the returned path
    says so (the runner then stops with "Checkpoint not found: '<that text>'").
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            path = f.read().strip()
        if path:
            return path
    hint = f'train {config} first' if config else 'train the previous stage first'
    return osp.join(work_dir, f'<no last_checkpoint yet: {hint}>')
