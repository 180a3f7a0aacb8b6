"""Batch collation for top-down samples.

``PackPoseInputs`` yields ``{'inputs': uint8 (3, H, W), 'data_samples': {'heatmaps': ...,
'keypoint_weights': ..., 'meta': {...}}}``. Tensors are stacked once; per-sample metadata (paths,
boxes, ground truth in image coordinates) stays a list of dicts, untouched, because the metrics
read it per sample and torch's default collate would transpose and copy it.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from poseforge.registry import FUNCTIONS


@FUNCTIONS.register_module()
def pose_collate(samples: Sequence[dict]) -> dict:
    """Stack ``inputs`` and every tensor in ``data_samples``; keep ``meta`` as a list."""
    inputs = torch.stack([s['inputs'] for s in samples])
    first = samples[0]['data_samples']
    data_samples: dict[str, Any] = {}
    for key, value in first.items():
        values = [s['data_samples'][key] for s in samples]
        data_samples[key] = torch.stack(values) if isinstance(value, torch.Tensor) else values
    return dict(inputs=inputs, data_samples=data_samples)
