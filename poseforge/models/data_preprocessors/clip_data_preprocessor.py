"""Batch normalisation of clips ``(B, T, 3, H, W)`` for temporal models (TASSN)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from poseforge.models.data_preprocessors.pose_data_preprocessor import PoseDataPreprocessor
from poseforge.registry import MODELS

__all__ = ['ClipDataPreprocessor']


@MODELS.register_module()
class ClipDataPreprocessor(PoseDataPreprocessor):
    """:class:`PoseDataPreprocessor` for ``clip_collate`` batches: clips are normalised as
    ``B * T`` frames and given back as ``(B, T, 3, H, W)``; 4-D frame batches pass as before."""

    def normalize(self, inputs: Tensor | Sequence[Tensor]) -> Tensor:
        if not isinstance(inputs, Tensor):
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 5:
            return super().normalize(inputs)
        b, t = inputs.shape[:2]
        frames = super().normalize(inputs.flatten(0, 1))
        return frames.reshape(b, t, *frames.shape[1:])
