"""Safe checkpoint I/O: atomic writes, ``weights_only=True`` loads with a minimal allow-list,
strict weight loading, and a checkpoint hook that never leaves a work dir without its latest or
best checkpoint.

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
  ``__setstate__`` accepts their absence; the class re-registers them). Likewise it leaves the
  annealing function out of a one-cycle scheduler's state (:func:`portable_scheduler_states`).
* mmengine's ``load_from`` loads with ``strict=False`` and only logs what did not fit, so a
  checkpoint of another model evaluates with random layers and exits 0. :func:`load_weights`
  is the one loader of every tool: strict by default (missing, unexpected or mis-shaped keys
  are a :class:`CheckpointMismatchError` naming counts and examples), partial only when asked,
  and then it reports what it skipped.
* A file that is empty, truncated or not a checkpoint at all raises
  :class:`CheckpointReadError` saying which, instead of a zip or "weights_only" message.
* mmengine's ``CheckpointHook`` removes the previous best (and the oldest kept) checkpoint
  *before* writing the new one, and writes ``last_checkpoint`` in place: a kill at that moment
  leaves no best checkpoint or an empty pointer. :class:`SafeCheckpointHook` writes first,
  removes after, and writes ``last_checkpoint`` atomically.
"""
from __future__ import annotations

import copy
import io
import os
import os.path as osp
import pickle
import re
import zipfile
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from poseforge.registry import HOOKS
from poseforge.utils.fileio import atomic_write_bytes


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: unreadable, not a checkpoint, or of another model."""


class CheckpointReadError(CheckpointError):
    """The file is empty, truncated, corrupt, or not a PyTorch checkpoint at all."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's weights do not fit the model (missing, unexpected or mis-shaped keys)."""


class UnsafeCheckpointError(pickle.UnpicklingError, CheckpointError):
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

#: File signatures of things people pass by mistake, for a message that says what the file is.
_OTHER_FORMATS = ((b'\x89PNG', 'a PNG image'), (b'\xff\xd8\xff', 'a JPEG image'),
                  (b'GIF8', 'a GIF image'), (b'\x1f\x8b', 'a gzip archive'),
                  (b'{', 'a JSON / text file'), (b'#', 'a text file (a config?)'),
                  (b'\x89HDF', 'an HDF5 file (Keras / h5py weights?)'),
                  (b'\x93NUMPY', 'a numpy .npy array'))


def _sniff(path: str) -> None:
    """Refuse, with what the file is, anything ``torch.load`` cannot be reading."""
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointReadError(f"checkpoint '{path}' is empty (0 bytes): an interrupted "
                                  'save or copy; use an earlier checkpoint')
    with open(path, 'rb') as f:
        head = f.read(8)
    if head.startswith(b'PK\x03\x04') or head[:1] == b'\x80':  # torch zip / legacy pickle
        return
    what = next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)),
                f'starts with bytes {head[:4]!r}')
    raise CheckpointReadError(f"'{path}' is not a PyTorch checkpoint ({what}; a checkpoint is a "
                              'file written by torch.save, such as epoch_N.pth)')


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """Cheap early check (no tensor is read): ``path`` exists, is a PyTorch checkpoint and,
    for the zip format, is complete. Tools call it before building anything, so that a bad
    file is reported before the data has been loaded.

    Raises:
        FileNotFoundError, CheckpointReadError: as :func:`safe_load` would.
    """
    path = os.fspath(Path(path).expanduser())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: '{path}'")
    _sniff(path)
    with open(path, 'rb') as f:
        is_zip_format = f.read(4) == b'PK\x03\x04'
    if not is_zip_format:  # the legacy pickle format has no index to check cheaply
        return
    try:
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointReadError(_corrupt_message(path, err)) from None


def safe_load(path: str | os.PathLike, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with only :data:`SAFE_GLOBALS` allowed.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointReadError: the file is empty, truncated, corrupt or not a checkpoint; the
            message names the file and which of these it is.
        UnsafeCheckpointError: the file carries other pickled objects (a callable, a class);
            the message names them and the file. Nothing in the file is executed.
    """
    path = os.fspath(Path(path).expanduser())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: '{path}'")
    _sniff(path)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        offending = _unsafe_globals(path)
        if offending:
            raise UnsafeCheckpointError(_refusal_message(path, offending)) from None
        raise CheckpointReadError(_corrupt_message(path, err)) from None
    except (EOFError, RuntimeError, ValueError, OSError, IndexError, KeyError) as err:
        raise CheckpointReadError(_corrupt_message(path, err)) from None


def _unsafe_globals(path: str) -> list[str]:
    try:
        allowed = {f'{g.__module__}.{g.__qualname__}' for g in SAFE_GLOBALS}
        return [g for g in torch.serialization.get_unsafe_globals_in_checkpoint(path)
                if g not in allowed]
    except Exception:  # a file too broken to scan holds nothing we could name
        return []


def _corrupt_message(path: str, err: BaseException) -> str:
    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if len(detail) > 120:
        detail = detail[:117] + '...'
    return (f"checkpoint '{path}' is truncated or corrupt ({os.path.getsize(path)} bytes; "
            f'{type(err).__name__}: {detail}); use an earlier checkpoint')


def _refusal_message(path: str, offending: list[str]) -> str:
    return (f"Refusing to load checkpoint '{path}': it contains pickled objects outside "
            f"poseforge's allow-list: {', '.join(offending)}. poseforge loads checkpoints with "
            'weights_only=True only, so nothing in the file was run. If you made this file '
            'yourself, re-save just its state_dict.')


def _mmengine_local_loader(filename: str, map_location: Any) -> Any:
    return safe_load(filename, map_location=map_location)


# Local paths (the '' prefix) in mmengine's Runner.resume / load_checkpoint come here.
CheckpointLoader.register_scheme(prefixes='', force=True)(_mmengine_local_loader)


# --------------------------------------------------------------------------- loading weights
#: Key rewrites applied to a checkpoint's state dict before matching: DDP's ``module.`` prefix.
DEFAULT_REVISE_KEYS: tuple[tuple[str, str], ...] = ((r'^module\.', ''),)
_EXAMPLES = 3


@dataclass
class LoadReport:
    """What :func:`load_weights` matched between a checkpoint and a model.

    Attributes:
        source: the checkpoint's path (or ``'<dict>'``).
        loaded: model keys whose tensors were copied from the checkpoint.
        missing: model keys the checkpoint lacks (they keep the model's values).
        unexpected: checkpoint keys the model lacks (ignored).
        mismatched: ``(key, checkpoint shape, model shape)`` of keys in both with other shapes.
    """

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Every model key loaded, nothing left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self) -> str:
        """``'2 missing (e.g. a, b), 1 with another shape (e.g. c: checkpoint [3], model
        [4])'``: counts and a few examples of each kind, for one line."""
        parts = []
        if self.missing:
            parts.append(f'{len(self.missing)} missing from the checkpoint '
                         f'(e.g. {_examples(self.missing)})')
        if self.unexpected:
            parts.append(f'{len(self.unexpected)} not in the model '
                         f'(e.g. {_examples(self.unexpected)})')
        if self.mismatched:
            shown = ', '.join(f'{k}: checkpoint {list(a)}, model {list(b)}'
                              for k, a, b in self.mismatched[:_EXAMPLES])
            parts.append(f'{len(self.mismatched)} with another shape (e.g. {shown})')
        return '; '.join(parts)

    def summary(self) -> str:
        """One line: how much was loaded, and what was not."""
        total = len(self.loaded) + len(self.missing) + len(self.mismatched)
        line = f"loaded {len(self.loaded)} of the model's {total} tensors from '{self.source}'"
        return f'{line}; not loaded: {self.problems()}' if not self.exact else line


def _examples(keys: list[str]) -> str:
    shown = ', '.join(keys[:_EXAMPLES])
    return shown + (', ...' if len(keys) > _EXAMPLES else '')


def checkpoint_state_dict(checkpoint: Any, source: str = '<dict>') -> dict[str, torch.Tensor]:
    """The weights in ``checkpoint``: its ``state_dict`` entry, or the dict itself when it is
    a bare state dict (as ``torch.save(model.state_dict())`` writes)."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else None
    if (not isinstance(state, Mapping) or not state
            or not all(isinstance(v, torch.Tensor) for v in state.values())):
        what = type(checkpoint).__name__ if not isinstance(checkpoint, Mapping) else (
            f"a dict with keys {', '.join(map(str, list(checkpoint)[:5]))}")
        raise CheckpointReadError(f"checkpoint '{source}' holds no state dict of tensors "
                                  f'(it holds {what})')
    return dict(state)


def _revise(state: dict[str, torch.Tensor], revise_keys) -> dict[str, torch.Tensor]:
    for pattern, replacement in revise_keys:
        state = {re.sub(pattern, replacement, k): v for k, v in state.items()}
    return state


def match_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                     source: str = '<dict>') -> LoadReport:
    """Compare a state dict with ``model``'s, key by key and shape by shape (loads nothing)."""
    own = model.state_dict()
    report = LoadReport(source)
    for key, value in own.items():
        if key not in state:
            report.missing.append(key)
        elif tuple(state[key].shape) != tuple(value.shape):
            report.mismatched.append((key, tuple(state[key].shape), tuple(value.shape)))
        else:
            report.loaded.append(key)
    report.unexpected = [k for k in state if k not in own]
    return report


def load_weights(model: torch.nn.Module, checkpoint: str | os.PathLike | Mapping,
                 strict: bool = True, map_location: Any = 'cpu',
                 revise_keys=DEFAULT_REVISE_KEYS, source: str | None = None) -> LoadReport:
    """Load a checkpoint's weights into ``model``: all of them, or (``strict=False``) those
    that fit.

    The one loader behind evaluation, ``init_model``, the demo, ``--resume`` and ``load_from``
    (and what a distiller's exported student must satisfy). ``strict=True`` refuses any
    difference before touching the model: a checkpoint of another model would otherwise
    evaluate with part of its weights random. ``strict=False`` is fine-tuning from another
    model: it copies every tensor whose key and shape match and reports the rest.

    Args:
        model: the module (unwrap DDP first, or rely on the ``module.`` key rewrite).
        checkpoint: a path (read with :func:`safe_load`) or an already loaded checkpoint.
        strict: refuse missing, unexpected and mis-shaped keys.
        revise_keys: ``(pattern, replacement)`` regex rewrites of the checkpoint's keys.
        source: the name messages give the checkpoint (default: its path, or ``'<dict>'``).

    Raises:
        CheckpointMismatchError: ``strict`` and the weights do not fit; the message gives the
            counts of each kind of difference with examples, in one line.
        CheckpointReadError, UnsafeCheckpointError, FileNotFoundError: from :func:`safe_load`.
    """
    if isinstance(checkpoint, Mapping):
        source, loaded = source or '<dict>', checkpoint
    else:
        source = source or os.fspath(checkpoint)
        loaded = safe_load(checkpoint, map_location=map_location)
    state = _revise(checkpoint_state_dict(loaded, source), revise_keys)
    report = match_state_dict(model, state, source)
    if strict and not report.exact:
        raise CheckpointMismatchError(
            f"checkpoint '{source}' does not fit the model ({type(model).__name__}): "
            f'{report.problems()}. To start from another model\'s weights, load them '
            'partially (tools/train.py --load-from CKPT --partial, or load_strict=False in '
            'the config)')
    if not report.loaded:
        raise CheckpointMismatchError(
            f"checkpoint '{source}' has no tensor that fits the model ({type(model).__name__}):"
            f' {report.problems()}')
    model.load_state_dict({k: state[k] for k in report.loaded}, strict=strict)
    return report


# --------------------------------------------------------------------------- atomic writes
def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`~poseforge.utils.fileio.atomic_write_bytes`."""
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


def portable_scheduler_states(states: Any) -> Any:
    """Parameter-scheduler states without the callables some schedulers keep in their state.

    mmengine's ``OneCycleParamScheduler`` holds its annealing function (a bound method) in
    ``__dict__``, which ``state_dict`` returns whole: pickled, it names ``getattr`` and the
    scheduler class, so the checkpoint would not load under ``weights_only=True``. The
    scheduler's ``__init__`` rebuilds every such function from its arguments, and
    ``load_state_dict`` only updates ``__dict__``, so leaving them out loses nothing on resume.
    ``states`` is the Runner's list of state dicts, or a dict of such lists (several optimizers).
    """
    if isinstance(states, dict):
        return {name: portable_scheduler_states(group) for name, group in states.items()}
    return [{k: v for k, v in state.items() if not callable(v)} if isinstance(state, dict)
            else state for state in states]


@HOOKS.register_module()
class PortableCheckpointHook(Hook):
    """Makes every checkpoint the Runner saves loadable with ``weights_only=True``.

    :class:`~poseforge.engine.runner.PoseRunner` registers it automatically.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = portable_message_hub_state(checkpoint['message_hub'])
        if 'param_schedulers' in checkpoint:
            checkpoint['param_schedulers'] = portable_scheduler_states(
                checkpoint['param_schedulers'])


# --------------------------------------------------------------------------- the saving hook
class _DeferredRemovals:
    """A file backend proxy that records ``remove`` / ``rmtree`` instead of doing them."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.pending: list[str] = []

    def remove(self, path: str) -> None:
        self.pending.append(path)

    rmtree = remove

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with its file changes ordered so that a kill at any moment
    leaves a usable work dir.

    * A new checkpoint (periodic or best) is written before the one it replaces is removed:
      ``max_keep_ckpts`` and ``save_best`` removals wait until the save is complete.
    * ``last_checkpoint`` is replaced atomically, after the file it names is complete.

    The base runtime config selects it (``default_hooks.checkpoint``); its arguments are
    ``CheckpointHook``'s.
    """

    @contextmanager
    def _removals_after(self):
        real = self.file_backend
        deferred = _DeferredRemovals(real)
        self.file_backend = deferred
        try:
            yield
        finally:
            self.file_backend = real
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in deferred.pending:
            if path in keep:
                continue
            if real.isfile(path):
                real.remove(path)
            elif real.isdir(path):  # checkpoints saved by deepspeed are folders
                real.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_after():
            super()._save_best_checkpoint(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """mmengine's bookkeeping (``keep_ckpt_ids``, ``last_ckpt`` in the message hub), with
        the removal of the oldest kept checkpoint after the save and an atomic pointer."""
        with self._removals_after():
            if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                                and self.keep_ckpt_ids[-1] == step):
                if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                    oldest = self.keep_ckpt_ids.popleft()
                    if is_main_process():
                        self.file_backend.remove(self.file_backend.join_path(
                            self.out_dir, self.filename_tmpl.format(oldest)))
                self.keep_ckpt_ids.append(step)
                runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
            filename = self.filename_tmpl.format(step)
            self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
            runner.message_hub.update_info('last_ckpt', self.last_ckpt)
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args,
                                   **self.args)
            if is_main_process():
                atomic_write_bytes(str(self.last_ckpt).encode(),
                                   osp.join(runner.work_dir, 'last_checkpoint'))
