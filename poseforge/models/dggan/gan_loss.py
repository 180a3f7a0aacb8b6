"""GAN losses on the discriminator's raw outputs (logits).

DGGAN's early code (pix2pix's ``GANLoss``) applies ``nn.BCELoss`` to the PatchGAN's outputs,
which have no sigmoid: probabilities outside [0, 1] make BCE meaningless (and ``log`` of a
saturated sigmoid overflows). Here the vanilla loss is binary cross-entropy **with logits**
(``softplus(-x)`` for "real", ``softplus(x)`` for "fake", computed stably for any logit), and
LSGAN (Mao et al. 2017; pix2pix's default) is the mean squared distance to the label.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poseforge.registry import MODELS

__all__ = ['GANLoss']


@MODELS.register_module()
class GANLoss(nn.Module):
    """``loss(logits, target_is_real)``, averaged over every patch of the batch.

    Args:
        mode: ``'vanilla'`` (BCE with logits) or ``'lsgan'`` (MSE to the label).
        real_label, fake_label: the targets (1 and 0; label smoothing sets e.g. 0.9).
        loss_weight: scale of the returned loss.
    """

    MODES = ('vanilla', 'lsgan')

    def __init__(self, mode: str = 'vanilla', real_label: float = 1.0, fake_label: float = 0.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f'GANLoss: mode must be one of {self.MODES}, got {mode!r}')
        self.mode = mode
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)
        self.loss_weight = float(loss_weight)

    def forward(self, logits: Tensor, target_is_real: bool) -> Tensor:
        logits = logits.float()
        target = torch.full_like(logits, self.real_label if target_is_real else self.fake_label)
        if self.mode == 'vanilla':
            loss = F.binary_cross_entropy_with_logits(logits, target)
        else:
            loss = F.mse_loss(logits, target)
        return loss * self.loss_weight
