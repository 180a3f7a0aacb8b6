"""Training engine pieces on top of mmengine: safe checkpoints, runner, hooks, AMP."""
from . import checkpoint, hooks, optim_wrapper, runner  # noqa: F401
from .checkpoint import UnsafeCheckpointError, atomic_torch_save, safe_load
from .runner import PoseRunner

__all__ = ['PoseRunner', 'UnsafeCheckpointError', 'atomic_torch_save', 'safe_load']
