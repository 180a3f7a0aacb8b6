"""Exact resume: everything a training run's randomness depends on, saved, restored or derived.

A run stopped after epoch ``e`` and resumed must continue exactly as the uninterrupted run did,
to the last bit (on the same hardware and thread count). The randomness of a training run and
where poseforge fixes each part:

* **Global RNGs of the training process** (Python ``random``, numpy, torch: dropout, the
  DataLoader's base seed): :class:`ReproducibilityHook` re-seeds them at the start of every
  epoch from ``(seed, epoch)`` (``SeedSequence``), so that an epoch starts from the same states
  whether the process ran the epochs before or resumed; whatever ran in between (validation,
  logging, checkpoint hooks) cannot shift them. The states are also saved in each checkpoint
  and restored on resume (loops that resume mid-epoch need them), and validation runs between
  a save and a restore of the states so that it never consumes training randomness.
* **Augmentation** (poseforge's transforms draw from ``np.random``; albumentations from
  generators that :class:`~poseforge.datasets.transforms.photometric.PhotometricAug` seeds from
  ``np.random`` on each call): :class:`~poseforge.datasets.base.BaseKeypointDataset` runs the
  pipeline of sample ``i`` in epoch ``e`` with the global RNGs seeded from ``(seed, e, i)`` and
  restores them afterwards. A sample's augmentation therefore depends on neither the worker
  that loads it, nor ``num_workers``, nor ``persistent_workers``, nor an interruption. The hook
  hands the epoch to the dataset through shared memory, which persistent workers see.
* **Worker seeds**: mmengine's default ``worker_init_fn`` seeds worker ``w`` with
  ``seed + w + rank * num_workers``, the same values every epoch when workers are not
  persistent, so any randomness a worker draws outside the per-sample seeding would repeat
  each epoch. :func:`seed_worker` (installed by :class:`~poseforge.engine.runner.PoseRunner`
  unless a config sets its own) seeds from ``(seed, epoch, rank, worker)`` instead.
* **Sampler**: mmengine's ``DefaultSampler`` shuffles with ``seed + epoch``;
  ``DistSamplerSeedHook`` sets the epoch and the resumed checkpoint's seed is put back into the
  sampler (it is built before the checkpoint is read).
* **Optimizer, scheduler, message hub, weights**: mmengine's resume restores them.

Loops that are not epoch based (``IterBasedTrainLoop``) get the saved states back, which is
exact when a checkpoint is followed by no validation-free randomness; poseforge's configs all
train by epoch.
"""
from __future__ import annotations

from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from poseforge.registry import HOOKS
from poseforge.utils.seeding import rng_state, seed_everything, set_rng_state

__all__ = ['ReproducibilityHook', 'epoch_entropy', 'rng_state', 'seed_worker', 'set_rng_state']

#: Entropy word that keeps the per-epoch seeds apart from per-sample and per-worker seeds.
_EPOCH_STREAM = 0x45504F43


def epoch_entropy(seed: int, epoch: int, rank: int | None = None) -> list[int]:
    """The entropy the global RNGs get at the start of ``epoch``."""
    words = [_EPOCH_STREAM, int(seed) & 0xFFFFFFFF, int(epoch)]
    return words + ([int(rank)] if rank is not None else [])


def seed_worker(worker_id: int, seed: int, rank: int = 0) -> None:
    """``worker_init_fn``: seed a dataloader worker from ``(seed, epoch, rank, worker)``.

    The epoch is the dataset's (:meth:`BaseKeypointDataset.set_epoch`, readable in the worker
    through shared memory), so non-persistent workers, started anew every epoch, no longer
    repeat the previous epoch's random streams.
    """
    info = torch.utils.data.get_worker_info()
    epoch = getattr(info.dataset, 'epoch', 0) if info is not None else 0
    seed_everything([int(seed) & 0xFFFFFFFF, int(epoch), int(rank), int(worker_id)])


def _keypoint_datasets(dataset: Any) -> list[Any]:
    """The dataset itself if it can seed its samples, else nothing (see ``set_epoch``)."""
    return [dataset] if hasattr(dataset, 'set_sample_seed') else []


@HOOKS.register_module()
class ReproducibilityHook(Hook):
    """Makes a resumed run continue bit for bit (module docstring);
    :class:`~poseforge.engine.runner.PoseRunner` always registers it."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._stash: dict | None = None
        self._warned = False

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed if runner.seed is not None else 0
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            diff_rank = runner._randomness_cfg.get('diff_rank_seed', False)
            seed_everything(epoch_entropy(seed, runner.epoch, runner.rank if diff_rank else None))
        dataset = runner.train_loop.dataloader.dataset
        seeded = _keypoint_datasets(dataset)
        for ds in seeded:
            ds.set_sample_seed(seed, runner.epoch)
        if not seeded and not self._warned:
            self._warned = True
            runner.logger.warning(
                f'{type(dataset).__name__} does not seed its samples (not a poseforge '
                'keypoint dataset): augmentation draws from the workers\' RNGs, and a resumed '
                'run is not bit-identical to an uninterrupted one')

    def before_val_epoch(self, runner) -> None:
        self._stash = rng_state()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._stash is not None:
            set_rng_state(self._stash)
            self._stash = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = rng_state()
