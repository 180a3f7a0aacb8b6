"""Batch normalisation of images on the model's device."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor, nn

from poseforge.registry import MODELS


@MODELS.register_module()
class PoseDataPreprocessor(BaseDataPreprocessor):
    """Move a ``pose_collate`` batch to the device and normalise the images.

    Input: ``{'inputs': uint8 (B, 3, H, W), 'data_samples': {'heatmaps': ..., 'keypoint_weights':
    ..., 'meta': [dict, ...]}}``. The uint8 images travel to the device first (4x fewer bytes
    than float), are made channels_last there if asked (a uint8 copy, the cheapest point), then
    ``(x.float() - mean) / std`` in one pass of fused element-wise kernels, which keep the
    memory format. Tensors in ``data_samples`` move too (``non_blocking``); lists such as
    ``meta`` stay untouched (same objects), because the metrics read them on the host.

    Args:
        mean / std: per-channel statistics in the images' channel order (RGB ImageNet by
            default, matching ``LoadImage``'s RGB output).
        channels_last: return ``inputs`` in ``torch.channels_last`` memory format (pair with a
            model converted by ``model.to(memory_format=torch.channels_last)``).
        non_blocking: asynchronous host-to-device copies (effective with pinned memory).
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), channels_last: bool = False,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != len(std):
            raise ValueError(f'mean has {len(mean)} channels, std {len(std)}')
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1),
                             persistent=False)
        self.channels_last = channels_last

    def _to_device(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            return value.to(self.device, non_blocking=self._non_blocking)
        return value

    def normalize(self, inputs: Tensor | Sequence[Tensor]) -> Tensor:
        """Images ``(B, C, H, W)`` (any dtype) -> normalised float32 on the device."""
        if not isinstance(inputs, Tensor):
            inputs = torch.stack(list(inputs))
        if inputs.shape[1] != self.mean.shape[1]:
            raise ValueError(f'inputs have {inputs.shape[1]} channels, mean/std '
                             f'{self.mean.shape[1]}')
        inputs = self._to_device(inputs)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return (inputs.float() - self.mean) / self.std

    def forward(self, data: Mapping, training: bool = False) -> dict:
        """Returns ``dict(inputs=normalised float images, data_samples=on the device)``."""
        data_samples = data.get('data_samples')
        if isinstance(data_samples, Mapping):
            data_samples = {key: self._to_device(value) for key, value in data_samples.items()}
        return dict(inputs=self.normalize(data['inputs']), data_samples=data_samples)


def build_pose_preprocessor(cfg: dict | nn.Module | None) -> nn.Module:
    """A model's data preprocessor: built from ``cfg`` (through ``MODELS``), passed through when
    it is a module, :class:`PoseDataPreprocessor` (ImageNet statistics) when ``None``."""
    if cfg is None:
        cfg = dict(type='PoseDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg
