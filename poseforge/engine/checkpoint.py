"""Safe checkpoint I/O: atomic writes, ``weights_only=True`` loads with a minimal allow-list.

Why this module exists:

* mmengine 0.10.7 writes checkpoints straight into their final path, so a crash or Ctrl-C during
  the write leaves a truncated file where the last good checkpoint was. :class:`AtomicLocalBackend`
  writes to a temporary file in the same directory, fsyncs it, then ``os.replace``-s it, which is
  atomic on POSIX: the path holds either the old or the new complete file.
* mmengine loads with a bare ``torch.load``; since torch 2.6 that means ``weights_only=True``,
  which refuses the :class:`~mmengine.logging.HistoryBuffer` and numpy objects mmengine's own
  checkpoints carry, so ``--resume`` breaks. :func:`safe_load` allow-lists exactly those types
  (no ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, never ``weights_only=False``) and is registered as
  mmengine's loader for local paths, so the Runner's resume and ``load_from`` go through it.
* ``HistoryBuffer.__getstate__`` pickles its statistics methods as ``getattr(HistoryBuffer,
  'min')``; allow-listing ``getattr`` would let a checkpoint call anything, so instead
  :class:`PortableCheckpointHook` saves the buffers without those methods (mmengine's
  ``__setstate__`` accepts their absence; the class re-registers them).
"""
from __future__ import annotations

import copy
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from poseforge.registry import HOOKS


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allow-list; nothing in it was run."""


def _numpy_dtype_classes() -> list[type]:
    names = ('BoolDType', 'Int8DType', 'Int16DType', 'Int32DType', 'Int64DType', 'UInt8DType',
             'UInt16DType', 'UInt32DType', 'UInt64DType', 'Float16DType', 'Float32DType',
             'Float64DType')
    return [getattr(np.dtypes, n) for n in names if hasattr(np.dtypes, n)]


#: What mmengine's checkpoints hold beyond tensors: HistoryBuffer and plain numpy data.
SAFE_GLOBALS: list[Any] = [
    HistoryBuffer, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
    np._core.multiarray.scalar, *_numpy_dtype_classes()]


def safe_load(path: str | os.PathLike, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with only :data:`SAFE_GLOBALS` allowed.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file carries other pickled objects (a callable, a class);
            the message names them and the file. Nothing in the file is executed.
    """
    path = os.fspath(Path(path).expanduser())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: '{path}'")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(_refusal_message(path, err)) from None


def _refusal_message(path: str, err: Exception) -> str:
    try:
        allowed = {f'{g.__module__}.{g.__qualname__}' for g in SAFE_GLOBALS}
        offending = [g for g in torch.serialization.get_unsafe_globals_in_checkpoint(path)
                     if g not in allowed]
    except Exception:  # a file too broken to scan: say so rather than guess
        offending = []
    what = (f"pickled objects outside poseforge's allow-list: {', '.join(offending)}"
            if offending else f'content that weights_only loading rejects ({err})')
    return (f"Refusing to load checkpoint '{path}': it contains {what}. poseforge loads "
            'checkpoints with weights_only=True only, so nothing in the file was run. If you '
            'made this file yourself, re-save just its state_dict.')


def _mmengine_local_loader(filename: str, map_location: Any) -> Any:
    return safe_load(filename, map_location=map_location)


# Local paths (the '' prefix) in mmengine's Runner.resume / load_checkpoint come here.
CheckpointLoader.register_scheme(prefixes='', force=True)(_mmengine_local_loader)


# --------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`atomic_write_bytes`."""
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(buffer.getvalue(), path)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``.

    Select it with ``CheckpointHook(backend_args=dict(backend='atomic_local'))`` (the base
    runtime config does).
    """

    def put(self, obj: bytes, filepath: str | Path) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


# --------------------------------------------------------------------------- portable buffers
class _PortableHistoryBuffer(HistoryBuffer):
    """Pickles as a plain ``HistoryBuffer`` whose state omits the statistics methods."""

    def __reduce_ex__(self, protocol: int):
        # Rebuilt as ``HistoryBuffer()`` then ``__setstate__(state)``: the pickle names only
        # the allow-listed class, never this subclass or a bound method.
        state = {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}
        return HistoryBuffer, (), state


def portable_message_hub_state(state: dict) -> dict:
    """A copy of a MessageHub state dict whose buffers load under ``weights_only=True``."""
    state = dict(state)
    scalars = {}
    for key, buffer in state.get('log_scalars', {}).items():
        if isinstance(buffer, HistoryBuffer):
            buffer = copy.copy(buffer)
            buffer.__dict__.pop('statistics_methods', None)
            buffer.__class__ = _PortableHistoryBuffer
        scalars[key] = buffer
    state['log_scalars'] = scalars
    return state


@HOOKS.register_module()
class PortableCheckpointHook(Hook):
    """Makes every checkpoint the Runner saves loadable with ``weights_only=True``.

    :class:`~poseforge.engine.runner.PoseRunner` registers it automatically.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = portable_message_hub_state(checkpoint['message_hub'])
