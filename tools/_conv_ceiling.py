"""The convolution ceiling of a training step (``tools/benchmark.py ceiling CONFIG``).

Why: a target such as "1.5x mmpose's GFLOP/s" is only meaningful below what the machine's
convolution library can deliver for the model's own layers. This module measures that bound:
every convolution the model runs in one training step is timed alone (forward + backward, same
shapes, stride, padding, groups, memory format and autocast dtype, input gradient only where the
model needs one), each distinct call once, weighted by how often the step makes it. The step
could not run faster than the sum of those times even if every other operation (BatchNorm,
ReLU, pooling, the loss, the optimiser) were free, so

    ceiling GFLOP/s = the step's counted FLOPs / the convolutions' seconds alone.

Only ``nn.Conv2d`` is timed (the only convolution the pose models use); its FLOPs are counted
with the same ``FlopCounterMode`` the ``train`` mode uses, so the two figures compare.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class ConvCall:
    """One distinct convolution of a step: the layer's hyper-parameters and what it was fed."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str
    dilation: tuple[int, ...]
    groups: int
    bias: bool
    input_shape: tuple[int, ...]
    channels_last: bool
    autocast_bf16: bool
    needs_input_grad: bool


def record_conv_calls(model: nn.Module, run_step: Callable[[], None]) -> Counter:
    """Run ``run_step`` once and count each distinct ``nn.Conv2d`` call it makes."""
    calls: Counter = Counter()

    def hook(module: nn.Conv2d, inputs: tuple, _output) -> None:
        x = inputs[0]
        calls[ConvCall(
            module.in_channels, module.out_channels, tuple(module.kernel_size),
            tuple(module.stride), module.padding if isinstance(module.padding, str)
            else tuple(module.padding), tuple(module.dilation), module.groups,
            module.bias is not None, tuple(x.shape),
            x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous(),
            torch.is_autocast_enabled('cpu') or torch.is_autocast_enabled('cuda'),
            x.requires_grad)] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    try:
        run_step()
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _conv_step(call: ConvCall, device: str) -> Callable[[], None]:
    """Forward + backward of a fresh layer like ``call``'s, on random input of its shape."""
    conv = nn.Conv2d(call.in_channels, call.out_channels, call.kernel_size, call.stride,
                     call.padding, call.dilation, call.groups, call.bias).to(device)
    x = torch.randn(call.input_shape, device=device)
    if call.channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(call.needs_input_grad)
    autocast = torch.autocast(device.split(':')[0], torch.bfloat16, enabled=call.autocast_bf16)
    with autocast:
        grad = torch.ones_like(conv(x))  # same dtype and layout as the layer's output

    def step() -> None:
        with autocast:
            y = conv(x)
        y.backward(grad)
    return step


def time_conv_call(call: ConvCall, device: str = 'cpu',
                   repeats: int = 5) -> tuple[float, int]:
    """(best seconds of ``repeats``, counted FLOPs) of one forward + backward of ``call``."""
    from torch.utils.flop_counter import FlopCounterMode
    step = _conv_step(call, device)
    counter = FlopCounterMode(display=False)
    with counter:  # also the warm-up: oneDNN builds its primitives here
        step()
    best = float('inf')
    for _ in range(repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, counter.get_total_flops()


def conv_ceiling(calls: Counter, step_flops: int, device: str = 'cpu',
                 repeats: int = 5) -> dict:
    """The ceiling of a step whose convolutions are ``calls`` and whose FLOPs are ``step_flops``.

    Returns ``conv_seconds`` (all of the step's convolutions, each alone; not rounded: the
    ceiling is ``step_flops / conv_seconds``, the step's rate if nothing but its convolutions
    took time), ``conv_share`` (their FLOPs / the step's) and ``conv_gflops_per_s`` (their
    rate alone).
    """
    if not calls:
        raise ValueError('the step runs no nn.Conv2d: a convolution ceiling does not apply')
    seconds = flops = 0.0
    for call, count in calls.items():
        t, f = time_conv_call(call, device, repeats)
        seconds += t * count
        flops += f * count
    return dict(conv_layers=sum(calls.values()), distinct_conv_layers=len(calls),
                conv_seconds=seconds, conv_share=round(flops / step_flops, 3),
                conv_gflops_per_s=round(flops / seconds / 1e9, 2))
