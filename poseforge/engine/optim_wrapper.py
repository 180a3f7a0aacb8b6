"""Mixed precision for ``--amp``: bfloat16 autocast on any device.

mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU device, so ``--amp`` would fail on a CPU.
bfloat16 has float32's exponent range, so it needs no loss scaling: autocast around the forward
pass is all there is to it, on CPUs with AVX-512 BF16/AMX and on GPUs alike.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from poseforge.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under bf16 autocast."""

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type=device,
                                                          dtype=torch.bfloat16):
            yield
