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

from poseforge.engine.checkpoint import (AtomicLocalBackend, CheckpointMismatchError,
                                         CheckpointReadError, SafeCheckpointHook,
                                         UnsafeCheckpointError, check_checkpoint_file,
                                         load_weights, match_state_dict,
                                         portable_message_hub_state, safe_load)
from poseforge.utils.fileio import atomic_write_bytes


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


def test_one_cycle_scheduler_state_loads_with_weights_only_and_resumes_the_schedule(tmp_path):
    """The quick start's OneCycleLR keeps its annealing function (a bound method) in its
    state: raw, the checkpoint is refused; made portable, it loads and the resumed scheduler
    continues the same learning-rate curve."""
    from mmengine.optim.scheduler import OneCycleLR
    from poseforge.engine.checkpoint import portable_scheduler_states

    def scheduler():
        optimizer = torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], lr=0.01)
        return optimizer, OneCycleLR(optimizer, eta_max=0.01, total_steps=20, by_epoch=False)

    optimizer, sched = scheduler()
    for _ in range(7):
        optimizer.step()
        sched.step()
    raw = tmp_path / 'raw.pth'
    torch.save({'param_schedulers': [sched.state_dict()]}, raw)
    with pytest.raises(UnsafeCheckpointError, match='OneCycleParamScheduler'):
        safe_load(raw)
    path = tmp_path / 'portable.pth'
    torch.save({'param_schedulers': portable_scheduler_states([sched.state_dict()])}, path)
    state = safe_load(path)['param_schedulers'][0]
    optimizer2, resumed = scheduler()
    resumed.load_state_dict(state)
    optimizer2.param_groups[0]['lr'] = optimizer.param_groups[0]['lr']
    for _ in range(5):
        for opt, s in ((optimizer, sched), (optimizer2, resumed)):
            opt.step()
            s.step()
        assert optimizer2.param_groups[0]['lr'] == pytest.approx(optimizer.param_groups[0]['lr'])
    assert portable_scheduler_states({'a': [{'f': len, 'x': 1}]}) == {'a': [{'x': 1}]}


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


# --------------------------------------------------------------------------- strict loading
NSRM_CONFIG = 'configs/nsrm/nsrm_lpm-g1and6_synth-hands-128.py'


@pytest.fixture(scope='module')
def other_model_checkpoint(tmp_path_factory) -> Path:
    """A plain checkpoint of another model (NSRM) than the quick-start light CPM."""
    from conftest import ROOT
    from poseforge.apis import init_model
    path = tmp_path_factory.mktemp('ckpt') / 'nsrm.pth'
    torch.save({'state_dict': init_model(str(ROOT / NSRM_CONFIG)).state_dict(), 'meta': {}},
               path)
    return path


def _light_cpm():
    from conftest import QUICKSTART_CONFIG
    from poseforge.apis import init_model
    return init_model(QUICKSTART_CONFIG)


def test_another_models_checkpoint_is_refused_with_counts_and_examples(other_model_checkpoint):
    model = _light_cpm()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_weights(model, other_model_checkpoint)
    message = str(info.value)
    assert '\n' not in message and 'nsrm.pth' in message
    report = match_state_dict(model, safe_load(other_model_checkpoint)['state_dict'])
    assert report.unexpected and report.mismatched  # NSRM: the CPM's layers and more
    for keys, kind in ((report.missing, 'missing from the checkpoint'),
                       (report.unexpected, 'not in the model'),
                       ([k for k, *_ in report.mismatched], 'with another shape')):
        if keys:
            assert f'{len(keys)} {kind} (e.g. {keys[0]}' in message
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched


def test_init_model_refuses_another_models_checkpoint(other_model_checkpoint):
    from conftest import QUICKSTART_CONFIG
    from poseforge.apis import init_model
    with pytest.raises(CheckpointMismatchError, match='nsrm.pth'):
        init_model(QUICKSTART_CONFIG, str(other_model_checkpoint))


def test_partial_load_copies_what_fits_and_reports_what_it_skipped(tmp_path):
    model = _light_cpm()
    state = {k: torch.full_like(v, 0.25) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    head = [k for k in state if v_is_float(state[k])][-1]
    state[head] = torch.zeros(3, 3)                    # another shape
    dropped = next(iter(state))
    del state[dropped]                                 # missing
    state['extra.weight'] = torch.ones(2)              # unexpected
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}}, path)
    with pytest.raises(CheckpointMismatchError):
        load_weights(model, path)
    report = load_weights(model, path, strict=False)
    assert report.missing == [dropped] and report.unexpected == ['extra.weight']
    assert [k for k, *_ in report.mismatched] == [head]
    loaded = model.state_dict()
    assert all(torch.all(loaded[k] == 0.25) for k in report.loaded if v_is_float(loaded[k]))
    assert not torch.all(loaded[head] == 0.25)         # skipped, not overwritten
    summary = report.summary()
    assert f'loaded {len(report.loaded)} of' in summary
    assert dropped in summary and 'extra.weight' in summary and head in summary


def v_is_float(tensor: torch.Tensor) -> bool:
    return tensor.is_floating_point()


# --------------------------------------------------------------------------- unreadable files
@pytest.mark.parametrize('kind', ['empty', 'truncated', 'png'])
def test_unreadable_checkpoint_files_say_what_they_are(tmp_path, kind):
    path = tmp_path / 'ckpt.pth'
    if kind == 'png':
        import cv2
        path.write_bytes(cv2.imencode('.png', np.zeros((4, 4), np.uint8))[1].tobytes())
    else:
        torch.save({'state_dict': {'w': torch.ones(100)}}, path)
        data = path.read_bytes()
        path.write_bytes(b'' if kind == 'empty' else data[:len(data) // 2])
    expected = {'empty': 'empty (0 bytes)', 'truncated': 'truncated or corrupt',
                'png': 'not a PyTorch checkpoint (a PNG image'}[kind]
    for check in (check_checkpoint_file, safe_load):
        with pytest.raises(CheckpointReadError) as info:
            check(path)
        assert expected in str(info.value) and 'ckpt.pth' in str(info.value)
        assert 'weights_only' not in str(info.value)


# --------------------------------------------------------------------------- the saving hook
class _FakeRunner:
    """What CheckpointHook uses of a Runner; ``save_checkpoint`` writes a small file."""

    def __init__(self, work_dir: Path) -> None:
        from types import SimpleNamespace
        self.work_dir = str(work_dir)
        self.epoch, self.iter = 0, 0
        self.message_hub = MessageHub.get_instance(f'fake-runner-{work_dir}')
        self.logger = SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None)
        self.fail_on: str | None = None
        self.cfg = {}

    def save_checkpoint(self, out_dir, filename, *args, **kwargs) -> None:
        if filename == self.fail_on:
            raise KeyboardInterrupt  # killed while writing this file
        atomic_write_bytes(filename.encode(), Path(out_dir) / filename)


def _hook(work_dir: Path, **kwargs) -> tuple:
    hook = SafeCheckpointHook(interval=1, save_best='PCK', rule='greater', **kwargs)
    runner = _FakeRunner(work_dir)
    hook.before_train(runner)
    return hook, runner


def _epoch(hook, runner, epoch: int, pck: float) -> None:
    runner.epoch, runner.iter = epoch - 1, epoch
    hook.after_train_epoch(runner)
    runner.epoch = epoch
    hook.after_val_epoch(runner, {'PCK': pck})


def test_new_best_is_written_before_the_old_one_is_removed(tmp_path):
    hook, runner = _hook(tmp_path, max_keep_ckpts=1)
    _epoch(hook, runner, 1, 0.5)
    _epoch(hook, runner, 2, 0.7)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ['best_PCK_epoch_2.pth', 'epoch_2.pth', 'last_checkpoint']
    runner.fail_on = 'best_PCK_epoch_3.pth'
    with pytest.raises(KeyboardInterrupt):  # killed while saving the new best
        _epoch(hook, runner, 3, 0.9)
    assert (tmp_path / 'best_PCK_epoch_2.pth').is_file()  # the old best is still there


def test_oldest_checkpoint_is_removed_only_after_the_new_one_is_saved(tmp_path):
    hook, runner = _hook(tmp_path, max_keep_ckpts=1)
    _epoch(hook, runner, 1, 0.5)
    runner.fail_on = 'epoch_2.pth'
    with pytest.raises(KeyboardInterrupt):
        hook.after_train_epoch(runner)
    assert (tmp_path / 'epoch_1.pth').is_file()  # what last_checkpoint names survives
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_1.pth')


def test_last_checkpoint_pointer_is_replaced_atomically(tmp_path, monkeypatch):
    hook, runner = _hook(tmp_path)
    _epoch(hook, runner, 1, 0.5)
    import poseforge.utils.fileio as fileio
    real = fileio.atomic_write_bytes

    def dying(data, path, durable=True):
        if Path(path).name == 'last_checkpoint':
            raise KeyboardInterrupt  # killed while replacing the pointer
        real(data, path, durable)

    monkeypatch.setattr('poseforge.engine.checkpoint.atomic_write_bytes', dying)
    runner.epoch, runner.iter = 1, 2
    with pytest.raises(KeyboardInterrupt):
        hook.after_train_epoch(runner)
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_1.pth')
    assert (tmp_path / 'epoch_2.pth').is_file()
