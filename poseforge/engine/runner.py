"""``PoseRunner``: mmengine's Runner with poseforge's checkpoint safety always on."""
from __future__ import annotations

import copy
from typing import Any

import torch
from mmengine.runner import Runner

from poseforge.engine.checkpoint import PortableCheckpointHook
from poseforge.engine.hooks import EvalProgressHook
from poseforge.registry import RUNNERS


@RUNNERS.register_module()
class PoseRunner(Runner):
    """Registers :class:`PortableCheckpointHook` whatever the config says, so that no poseforge
    run can write a checkpoint that poseforge itself refuses to load, and
    :class:`EvalProgressHook` for a progress bar over evaluation, and pins the dataloaders'
    memory by default when training on a GPU (so ``PoseDataPreprocessor``'s ``non_blocking``
    copies overlap with compute)."""

    ALWAYS_ON = (PortableCheckpointHook, EvalProgressHook)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        for hook_type in self.ALWAYS_ON:
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())

    @staticmethod
    def build_dataloader(dataloader: Any, seed: int | None = None,
                         diff_rank_seed: bool = False):
        """mmengine's ``build_dataloader``, with ``pin_memory`` defaulting to whether CUDA is
        available: pinned host buffers make the host-to-GPU copy asynchronous, and on a
        CPU-only machine pinning would only cost (and warn). A config's own value wins."""
        if isinstance(dataloader, dict) and 'pin_memory' not in dataloader:
            dataloader = copy.copy(dataloader)
            dataloader['pin_memory'] = torch.cuda.is_available()
        return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
