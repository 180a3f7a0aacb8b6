"""Hooks that keep a human-readable record of training."""
from __future__ import annotations

import json
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook

from poseforge.utils.fileio import atomic_write_bytes
from poseforge.registry import HOOKS
from poseforge.visualization.plots import plot_curves


@HOOKS.register_module()
class CurveHistoryHook(Hook):
    """Records the training loss and validation metrics; writes ``history.json`` and
    ``curves.png`` into the work dir after every validation and at the end of training.

    The record travels in checkpoints (plain lists of floats: safe under ``weights_only``), so
    a resumed run's plot continues the interrupted one.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, filename: str = 'curves.png') -> None:
        self.interval = interval
        self.filename = filename
        self.history: dict = {'train': {'iter': [], 'loss': []}, 'val': {'step': []}}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        if outputs and 'loss' in outputs and (step % self.interval == 0 or step == 1):
            self.history['train']['iter'].append(step)
            self.history['train']['loss'].append(float(outputs['loss'].detach()))

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        if not metrics:
            return
        val = self.history['val']
        val['step'].append(runner.iter)
        for name, value in metrics.items():
            if isinstance(value, (int, float)):
                val.setdefault(name, []).append(float(value))
        self._write(runner)

    def after_train(self, runner) -> None:
        self._write(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['curve_history'] = self.history

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'curve_history' in checkpoint:
            self.history = checkpoint['curve_history']

    @master_only
    def _write(self, runner) -> None:
        atomic_write_bytes(json.dumps(self.history, indent=1).encode(),
                           osp.join(runner.work_dir, 'history.json'))
        path = plot_curves(self.history, osp.join(runner.work_dir, self.filename),
                           title=osp.basename(runner.work_dir))
        runner.logger.info(f'Training curves written to {path}')


@HOOKS.register_module()
class EvalProgressHook(Hook):
    """A tqdm progress bar over validation and test batches (rank 0 only).

    mmengine logs evaluation every ``LoggerHook.interval`` batches; a bar shows progress and
    the time left on long test sets. :class:`~poseforge.engine.runner.PoseRunner` registers it.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar = None

    def _open(self, runner, loader, desc: str) -> None:
        if runner.rank == 0:
            from tqdm import tqdm
            self._bar = tqdm(total=len(loader), desc=desc, unit='batch', leave=False,
                             dynamic_ncols=True)

    def _step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_val_epoch(self, runner) -> None:
        self._open(runner, runner.val_dataloader, 'validating')

    def before_test_epoch(self, runner) -> None:
        self._open(runner, runner.test_dataloader, 'testing')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close()
