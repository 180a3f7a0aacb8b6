"""Weight schedules of distillation losses: a factor in [0, 1] (or any scale) by training step.

A loss config names one as ``schedule=dict(policy=..., ...)`` (or just the policy's name); its
factor multiplies the loss's ``weight``. (``policy``, not ``type``: a schedule is not a
registered object.) The position comes from the runner's message hub
(:meth:`~poseforge.distillers.base.BaseDistiller.training_progress`: ``epoch``, ``iter`` and
their maxima), which mmengine saves in every checkpoint and restores on ``--resume``, so a
resumed run continues the schedule where it stopped.

* ``constant``: ``factor`` (1).
* ``linear_decay``: ``1 - t / T`` (DWPose's first stage, mmpose ``DWPoseDistiller``: the
  feature and logit KD weights are multiplied by ``1 - epoch / max_epochs``, ``epoch`` counted
  from 0, so the first epoch has the full weight and the last ``1 / T``); ``end_factor``
  (0) sets the value it decays towards.
* ``warmup``: ``start_factor + (1 - start_factor) * min(t / length, 1)``: the KD term grows
  from ``start_factor`` (0) to its full weight over ``length`` epochs (or iterations).

``by_epoch`` (True) picks ``t = epoch, T = max_epochs`` or ``t = iter, T = max_iters``.
"""
from __future__ import annotations

from typing import Mapping

from poseforge.utils.config import ConfigError

SCHEDULES = ('constant', 'linear_decay', 'warmup')


class WeightSchedule:
    """A loss weight's factor as a function of training progress.

    Args:
        policy: one of :data:`SCHEDULES`.
        by_epoch: count epochs (default) or iterations.
        factor: ``constant``'s value.
        end_factor: ``linear_decay``'s value at ``t = T``.
        length / start_factor: ``warmup``'s length (epochs or iterations) and first value.
    """

    def __init__(self, policy: str = 'constant', by_epoch: bool = True, factor: float = 1.0,
                 end_factor: float = 0.0, length: float = 1.0, start_factor: float = 0.0) -> None:
        if policy not in SCHEDULES:
            raise ConfigError(f"unknown loss schedule policy '{policy}': expected one of "
                              f"{', '.join(SCHEDULES)}")
        if policy == 'warmup' and length <= 0:
            raise ConfigError(f'warmup length must be > 0, got {length}')
        self.policy = policy
        self.by_epoch = by_epoch
        self.factor = float(factor)
        self.end_factor = float(end_factor)
        self.length = float(length)
        self.start_factor = float(start_factor)

    @classmethod
    def build(cls, cfg: 'Mapping | str | WeightSchedule | None') -> 'WeightSchedule':
        """From a dict, a type name, a schedule, or ``None`` (constant 1)."""
        if isinstance(cfg, WeightSchedule):
            return cfg
        if cfg is None:
            return cls()
        if isinstance(cfg, str):
            return cls(policy=cfg)
        try:
            return cls(**dict(cfg))
        except TypeError as err:
            raise ConfigError(f'bad loss schedule {dict(cfg)!r}: {err}') from None

    def position(self, progress: Mapping[str, int]) -> tuple[float, float]:
        """``(t, T)`` from a :meth:`training_progress` dict."""
        if self.by_epoch:
            return float(progress.get('epoch', 0)), float(progress.get('max_epochs', 0))
        return float(progress.get('iter', 0)), float(progress.get('max_iters', 0))

    def __call__(self, progress: Mapping[str, int]) -> float:
        t, total = self.position(progress)
        if self.policy == 'constant':
            return self.factor
        if self.policy == 'linear_decay':
            if total <= 0:  # outside a runner: the start of the schedule
                return 1.0
            done = min(max(t / total, 0.0), 1.0)
            return 1.0 - (1.0 - self.end_factor) * done
        done = min(max(t / self.length, 0.0), 1.0)
        return self.start_factor + (1.0 - self.start_factor) * done

    def __repr__(self) -> str:
        return f'WeightSchedule(policy={self.policy!r}, by_epoch={self.by_epoch})'
