"""``PoseRunner``: mmengine's Runner with poseforge's checkpoint safety always on."""
from __future__ import annotations

from mmengine.runner import Runner

from poseforge.engine.checkpoint import PortableCheckpointHook
from poseforge.engine.hooks import EvalProgressHook
from poseforge.registry import RUNNERS


@RUNNERS.register_module()
class PoseRunner(Runner):
    """Registers :class:`PortableCheckpointHook` whatever the config says, so that no poseforge
    run can write a checkpoint that poseforge itself refuses to load, and
    :class:`EvalProgressHook` for a progress bar over evaluation."""

    ALWAYS_ON = (PortableCheckpointHook, EvalProgressHook)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        for hook_type in self.ALWAYS_ON:
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())
