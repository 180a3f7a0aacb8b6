"""Checkpoints: atomic writes, weights_only loading, mmengine resume state, refusal of code."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

from poseforge.engine.checkpoint import (AtomicLocalBackend, UnsafeCheckpointError,
                                         atomic_write_bytes, portable_message_hub_state,
                                         safe_load)


class _Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_checkpoint_with_pickled_callable_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'extra': _Payload(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_load(path)
    assert 'evil.pth' in str(info.value) and 'system' in str(info.value)
    # mmengine's own loading path (Runner.resume / load_from) goes through the same check.
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        safe_load(tmp_path / 'absent.pth')


def test_mmengine_message_hub_state_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('poseforge-test-hub')
    for v in (1.0, 0.5, 0.25):
        hub.update_scalar('train/loss', v)
    hub.update_info('iter', np.int64(3), resumed=True)
    state = portable_message_hub_state(hub.state_dict())
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': state, 'meta': {'seed': np.int64(0)}}, path)
    loaded = safe_load(path)
    restored = MessageHub.get_instance('poseforge-test-hub-2')
    restored.load_state_dict(loaded['message_hub'])
    assert restored.get_scalar('train/loss').mean() == pytest.approx(np.mean([1.0, 0.5, 0.25]))
    assert restored.get_scalar('train/loss').min() == 0.25  # statistics methods still work


def test_raw_mmengine_history_buffer_pickle_needs_getattr_and_is_refused(tmp_path):
    """Why PortableCheckpointHook exists: mmengine's buffers pickle bound methods."""
    hub = MessageHub.get_instance('poseforge-test-hub-3')
    hub.update_scalar('train/loss', 1.0)
    path = tmp_path / 'raw.pth'
    torch.save({'message_hub': hub.state_dict()}, path)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        safe_load(path)


def test_atomic_write_keeps_previous_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    atomic_write_bytes(b'complete-old', path)

    real_fdopen = os.fdopen

    class _Dying:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    monkeypatch.setattr(os, 'fdopen', lambda fd, mode: _Dying(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        AtomicLocalBackend().put(b'new-content-that-never-lands', path)
    monkeypatch.undo()
    assert path.read_bytes() == b'complete-old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']  # no temp litter


def test_refusal_is_an_unpickling_error_subclass():
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)
