"""Mixed precision for ``--amp``: bfloat16 autocast on any device.

mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU device, so ``--amp`` would fail on a CPU.
bfloat16 has float32's exponent range, so it needs no loss scaling: autocast around the forward
pass is all there is to it, on CPUs with AVX-512 BF16/AMX and on GPUs alike.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from poseforge.registry import OPTIM_WRAPPERS


def has_native_bf16(device: str) -> bool:
    """Whether ``device`` runs bfloat16 convolutions and matmuls natively.

    CUDA GPUs do from compute capability 8.0 (Ampere). On a CPU, oneDNN uses AVX-512 BF16 or
    AMX; without them bf16 is emulated and slower than float32, so "autocast where it helps"
    must ask first.
    """
    if device == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device == 'cpu':
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under bf16 autocast.

    Args:
        only_if_native: autocast only where the device has native bf16 (``has_native_bf16``),
            else train in float32 and say so once. The quick start sets it: its config must
            be fast on every laptop, and emulated bf16 would make it slower, not faster.
        **kwargs: as ``mmengine.optim.OptimWrapper``.
    """

    def __init__(self, *args, only_if_native: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.only_if_native = only_if_native
        self._enabled: dict[str, bool] = {}

    def autocast_enabled(self, device: str) -> bool:
        """Whether the forward pass on ``device`` runs under bf16 autocast (decided once)."""
        if device not in self._enabled:
            enabled = not self.only_if_native or has_native_bf16(device)
            if not enabled:
                print_log(f'bf16 autocast off: this {device} has no native bfloat16 '
                          '(training in float32)', logger='current', level=logging.WARNING)
            self._enabled[device] = enabled
        return self._enabled[device]

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type=device, dtype=torch.bfloat16,
                enabled=self.autocast_enabled(device)):
            yield
