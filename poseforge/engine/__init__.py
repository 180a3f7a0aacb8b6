"""Training engine pieces on top of mmengine: safe checkpoints, runner, hooks, AMP."""
from . import checkpoint, hooks, multi_optim, optim_wrapper, runner  # noqa: F401
from . import clip_loops, reproducibility  # noqa: F401
from .checkpoint import (CheckpointError, CheckpointMismatchError, CheckpointReadError,
                         LoadReport, UnsafeCheckpointError, atomic_torch_save, load_weights,
                         safe_load)
from .runner import PoseRunner

__all__ = ['CheckpointError', 'CheckpointMismatchError', 'CheckpointReadError', 'LoadReport',
           'PoseRunner', 'UnsafeCheckpointError', 'atomic_torch_save', 'load_weights',
           'safe_load']
