"""Peak dense bf16 tensor throughput of GPUs, for ``tools/benchmark.py``'s model FLOP utilisation.

MFU = achieved model FLOP/s (torch's ``FlopCounterMode``: forward + backward for a training step)
/ the device's peak dense bf16 FLOP/s (vendor datasheets, without the 2x "with sparsity"
figures). ``--peak-tflops`` overrides the table for a GPU it does not know or a clock that
differs.
"""
from __future__ import annotations

import re

#: (pattern matched against ``torch.cuda.get_device_name()``, dense bf16 TFLOP/s). The first
#: match wins, so a more specific name precedes its family (``H100 PCIe`` before ``H100``).
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    (r'\bGB200\b|\bB200\b', 2250.0),
    (r'\bH100\b.*\bPCIe\b', 756.0),
    (r'\bH100\b.*\bNVL\b', 835.0),
    (r'\bGH200\b|\bH200\b|\bH100\b|\bH800\b', 989.0),
    (r'\bA100\b|\bA800\b', 312.0),
    (r'\bL40S\b', 362.0),
    (r'\bL40\b', 181.0),
    (r'\bL4\b', 121.0),
    (r'\bA10\b', 125.0),
    (r'\bRTX 4090\b', 165.0),
    (r'\bMI300X\b', 1307.0),
)


def bf16_peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of the GPU called ``device_name``; ``None`` when not in the table."""
    for pattern, tflops in BF16_PEAK_TFLOPS:
        if re.search(pattern, device_name):
            return tflops
    return None


def mfu(gflops_per_s: float, peak_tflops: float) -> float:
    """Achieved GFLOP/s as a fraction of a peak in TFLOP/s."""
    if not peak_tflops > 0:
        raise ValueError(f'peak TFLOP/s must be positive, got {peak_tflops}')
    return gflops_per_s / (peak_tflops * 1e3)


def utilisation_fields(result: dict, device: str, peak_tflops: float | None = None) -> dict:
    """``mfu`` / ``peak_tflops`` / ``gpu`` for a train or infer result: against ``peak_tflops``
    when given, else the table's bf16 peak of the CUDA device (nothing on a CPU or an unknown
    GPU, where ``mfu_note`` says why)."""
    if 'gflops_per_s' not in result:
        return {}
    fields: dict = {}
    if peak_tflops is None and device.startswith('cuda'):
        import torch
        name = torch.cuda.get_device_name(torch.device(device))
        fields['gpu'] = name
        peak_tflops = bf16_peak_tflops(name)
        if peak_tflops is None:
            fields['mfu_note'] = f"no bf16 peak known for '{name}': pass --peak-tflops"
    if peak_tflops is not None:
        fields['peak_tflops'] = peak_tflops
        fields['mfu'] = round(mfu(result['gflops_per_s'], peak_tflops), 4)
    return fields
