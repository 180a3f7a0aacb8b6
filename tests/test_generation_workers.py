"""The generator never hangs on a dead worker process: it runs the lost units again or stops
with one line, and the run stays resumable to the same bytes."""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from poseforge.generation import synth_hands
from poseforge.generation.synth_hands import GenerationConfig, GenerationError, generate_dataset
from poseforge.utils.fileio import TMP_SUFFIX

RUN = dict(num=6, views=1, size=32, seed=11, test_fraction=0.34,
           cfg=GenerationConfig(gallery=False, save_depth=False))
DOOMED = 2
_real_work = synth_hands._work


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def _kill_own_worker_on_doomed_unit(task: tuple):
    """A unit that kills the process rendering it (as the kernel's OOM killer would)."""
    if task[0] == DOOMED:
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_work(task)


def _kill_own_worker_once(task: tuple):
    """Killed once mid-write: the half-written shard temporary stays behind (as it does for the
    pool's other workers, terminated wherever they are when the pool breaks)."""
    marker = Path(task[3]) / 'killed-once'
    if task[0] == DOOMED and not marker.exists():
        marker.write_text('')
        shards = Path(task[3]) / synth_hands.SHARDS
        shards.mkdir(exist_ok=True)
        tempfile.mkstemp(prefix=f'.{DOOMED:07d}.json.', suffix=TMP_SUFFIX, dir=shards)
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_work(task)


@pytest.fixture(scope='module')
def clean_run(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp('clean')
    generate_dataset(out, workers=1, **RUN)
    return _files(out)


def test_a_unit_that_always_kills_its_worker_stops_the_run_with_one_line(clean_run, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(synth_hands, '_work', _kill_own_worker_on_doomed_unit)
    start = time.perf_counter()
    with pytest.raises(GenerationError) as info:
        generate_dataset(tmp_path, workers=2, **RUN)
    assert time.perf_counter() - start < 120  # noticed at once, not a hang
    message = str(info.value)
    assert '\n' not in message and 'worker processes died' in message
    assert f'[{DOOMED}' in message or f', {DOOMED}' in message
    assert 'run the same command again to resume' in message
    assert (tmp_path / 'shards').is_dir()  # the finished units are kept
    monkeypatch.undo()
    summary = generate_dataset(tmp_path, workers=2, **RUN)  # the re-run resumes...
    assert summary.resumed_units >= 1
    assert _files(tmp_path) == clean_run                    # ...to the clean run's bytes


def test_a_worker_killed_once_is_replaced_and_the_run_completes(clean_run, tmp_path,
                                                                monkeypatch, capsys):
    monkeypatch.setattr(synth_hands, '_work', _kill_own_worker_once)
    generate_dataset(tmp_path, workers=2, **RUN)
    assert 'a worker process died' in capsys.readouterr().err
    (tmp_path / 'killed-once').unlink()
    assert _files(tmp_path) == clean_run  # no temporary of the killed write left either
