"""Frozen teachers: built from a config, loaded from a checkpoint, never trained.

A teacher in offline distillation is a finished model: its weights come from its own
checkpoint, it runs in eval mode (BatchNorm uses its running statistics, whatever mode the
runner puts the distiller in), and nothing it holds is optimised. Its weights are not written
again into every checkpoint of the student's run (they would double the file size for nothing):
a distiller saved without them is re-built from the teacher's config + checkpoint on load.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from mmengine.config import Config, ConfigDict
from torch import nn

from poseforge.engine.checkpoint import safe_load
from poseforge.registry import MODELS

_SKIP_TEACHER_WEIGHTS = [False]


@contextmanager
def teacher_checkpoints_optional() -> Iterator[None]:
    """Build distillers without reading their teachers' checkpoints.

    For work that never runs a teacher: exporting the student, counting parameters, building
    a distiller to load one of its own checkpoints that holds the teacher's weights.
    """
    _SKIP_TEACHER_WEIGHTS[0] = True
    try:
        yield
    finally:
        _SKIP_TEACHER_WEIGHTS[0] = False


def teacher_weights_skipped() -> bool:
    return _SKIP_TEACHER_WEIGHTS[0]


def model_config(model: str | os.PathLike | dict) -> dict:
    """A model dict from a config dict, or from a config file (its ``model`` entry)."""
    if isinstance(model, (str, os.PathLike)):
        from poseforge.utils.config import load_config
        return load_config(os.fspath(model)).model.to_dict()
    if isinstance(model, ConfigDict):
        return model.to_dict()
    if isinstance(model, (dict, Config)):
        return dict(model)
    raise TypeError(f'a teacher is a config dict or a config file path, got {type(model)!r}')


def strip_wrapper_prefix(state: dict) -> dict:
    """Keys saved from a DDP-wrapped model start with ``module.``; a plain model's do not."""
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def load_weights(module: nn.Module, checkpoint: str | os.PathLike) -> None:
    """Load ``checkpoint`` (a poseforge / mmengine file, ``weights_only=True``) into ``module``
    strictly: missing, unexpected or mis-shaped keys are an error naming the file."""
    ckpt = safe_load(checkpoint, map_location='cpu')
    state = strip_wrapper_prefix(ckpt.get('state_dict', ckpt))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError:
        raise ValueError(f"Checkpoint '{os.fspath(checkpoint)}' does not fit "
                         f'{type(module).__name__}: {key_summary(module, state)}') from None


def key_summary(module: nn.Module, state: dict) -> str:
    """Counts and examples of the keys that are missing, unexpected or mis-shaped."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(k for k in set(expected) & set(state)
                       if hasattr(state[k], 'shape') and state[k].shape != expected[k].shape)
    parts = [f'{len(keys)} {what} (e.g. {", ".join(keys[:3])})'
             for what, keys in (('missing', missing), ('unexpected', unexpected),
                                ('of another shape', misshaped)) if keys]
    return '; '.join(parts) or 'the state dict does not load'


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no gradients; marked initialised so mmengine's ``init_weights`` leaves it be."""
    module.eval()
    module.requires_grad_(False)
    module.is_init = True
    return module


def build_frozen_teacher(model: str | os.PathLike | dict | nn.Module,
                         checkpoint: str | os.PathLike | None = None) -> nn.Module:
    """Build a teacher (config dict, config file or module), load its checkpoint, freeze it.

    ``checkpoint`` is required unless inside :func:`teacher_checkpoints_optional` (a teacher
    with random weights teaches nothing; say ``checkpoint=None`` only for a module that
    already holds its weights).
    """
    teacher = model if isinstance(model, nn.Module) else MODELS.build(model_config(model))
    if checkpoint is not None and not teacher_weights_skipped():
        load_weights(teacher, checkpoint)
    elif checkpoint is None and not isinstance(model, nn.Module) and not teacher_weights_skipped():
        raise ValueError('a frozen teacher built from a config needs its checkpoint '
                         '(teacher_checkpoint=...)')
    return freeze(teacher)
