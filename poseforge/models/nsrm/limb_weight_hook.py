"""``LimbWeightDecayHook``: NSRM's step decay of the limb-loss weight.

The original (``main.py`` of HowieMa/NSRMhand, "Limb weight decay": the limb masks are only an
intermediate product, so their loss matters less once the structure is learnt) multiplies the
weight by ``w_decay_ratio`` (0.1) at the start of every epoch whose 1-based number is a multiple
of ``weight_decay`` (20): epochs 1-19 train with ``w``, 20-39 with ``0.1 w``, 40-59 with
``0.01 w``, ... This hook sets ``limb_weight_scale = ratio ** ((epoch + 1) // interval)``
(mmengine's ``runner.epoch`` is 0-based) on every module of the model that has that attribute
(:class:`~poseforge.models.nsrm.head.NSRMHead`) before each training epoch. The scale is a
function of the epoch alone, so a resumed run gets the right weight without saved state.
Epoch-based training only: an iteration-based loop never advances ``runner.epoch``.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from poseforge.registry import HOOKS


def limb_weight_scale(epoch: int, interval: int, ratio: float) -> float:
    """The factor on the limb weight during 0-based ``epoch`` (see the module docstring)."""
    return float(ratio) ** ((epoch + 1) // interval)


@HOOKS.register_module()
class LimbWeightDecayHook(Hook):
    """Multiply the limb-loss weight by ``ratio`` every ``interval`` epochs.

    Args:
        interval: epochs between decays (original: 20); the first decay starts the
            ``interval``-th epoch (1-based), as in the original.
        ratio: factor per decay (original: 0.1).
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 20, ratio: float = 0.1) -> None:
        if int(interval) != interval or interval < 1:
            raise ValueError(f'LimbWeightDecayHook: interval must be a positive integer, got '
                             f'{interval!r}')
        if not ratio >= 0:
            raise ValueError(f'LimbWeightDecayHook: ratio must be non-negative, got {ratio!r}')
        self.interval = int(interval)
        self.ratio = float(ratio)

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        scale = limb_weight_scale(runner.epoch, self.interval, self.ratio)
        targets = [m for m in model.modules() if hasattr(m, 'limb_weight_scale')]
        if not targets:
            raise RuntimeError('LimbWeightDecayHook: the model has no module with a '
                               'limb_weight_scale (an NSRMHead); remove the hook or use one')
        for module in targets:
            module.limb_weight_scale = scale
