"""End to end through the command-line tools: train, save, resume, evaluate; DDP with gloo."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import QUICKSTART_CONFIG, ROOT, as_cli, tiny_cfg_options

from poseforge.engine.checkpoint import safe_load

pytestmark = pytest.mark.slow
TOOLS = ROOT / 'tools'


def run_tool(*args: str, env_extra: dict | None = None, timeout: int = 300
             ) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', **(env_extra or {}))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _last_checkpoint(work_dir: Path) -> Path:
    return Path((work_dir / 'last_checkpoint').read_text().strip())


def test_train_two_iterations_save_resume_and_evaluate(tiny_synth, tmp_path):
    work = tmp_path / 'work'
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1, 'val_dataloader.dataset.indices': 6,
        'test_dataloader.dataset.indices': 6})
    _ok(run_tool(str(TOOLS / 'train.py'), QUICKSTART_CONFIG, '--work-dir', str(work),
                 *as_cli(opts)))
    first = _last_checkpoint(work)
    ckpt = safe_load(first)  # weights_only=True, mmengine's resume state included
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    assert (work / 'curves.png').stat().st_size > 0

    opts['train_cfg.max_epochs'] = 2
    resumed = _ok(run_tool(str(TOOLS / 'train.py'), QUICKSTART_CONFIG, '--work-dir', str(work),
                           '--resume', *as_cli(opts)))
    assert 'resumed epoch: 1, iter: 2' in (resumed.stdout + resumed.stderr)
    second = safe_load(_last_checkpoint(work))
    assert second['meta']['epoch'] == 2 and second['meta']['iter'] == 4
    changed = [k for k, v in second['state_dict'].items()
               if v.is_floating_point() and not torch.equal(v, ckpt['state_dict'][k])]
    assert changed, 'resumed training did not update the weights'

    out = tmp_path / 'metrics.json'
    ev = _ok(run_tool(str(TOOLS / 'eval.py'), QUICKSTART_CONFIG, str(_last_checkpoint(work)),
                      '--work-dir', str(work), '--out', str(out), '--vis', '4', *as_cli(opts)))
    metrics = json.loads(out.read_text())
    for name in ('PCK@0.2', 'AUC', 'EPE'):
        assert name in metrics and isinstance(metrics[name], float)
    assert 0.0 <= metrics['PCK@0.2'] <= 1.0 and metrics['EPE'] >= 0
    assert 'PCK@0.2' in ev.stdout
    assert (work / 'predictions.png').stat().st_size > 0
    preds = json.loads((work / 'predictions.json').read_text())
    assert len(preds) == 6 and len(preds[0]['pred_keypoints']) == 21


def test_bad_inputs_fail_with_one_clear_line(tiny_synth, tmp_path):
    missing_cfg = run_tool(str(TOOLS / 'train.py'), str(tmp_path / 'absent.py'))
    assert missing_cfg.returncode == 2 and 'absent.py' in missing_cfg.stderr
    assert 'Traceback' not in missing_cfg.stderr

    typo = run_tool(str(TOOLS / 'train.py'), QUICKSTART_CONFIG, '--work-dir', str(tmp_path),
                    '--cfg-options', 'model.backbone.type=CPMM')
    assert typo.returncode == 2 and "'CPMM'" in typo.stderr and 'CPM' in typo.stderr

    no_root = run_tool(str(TOOLS / 'train.py'), QUICKSTART_CONFIG, '--work-dir', str(tmp_path),
                       *as_cli(tiny_cfg_options(tmp_path / 'no_such_root')))
    assert no_root.returncode == 2 and 'no_such_root' in no_root.stderr

    no_ckpt = run_tool(str(TOOLS / 'eval.py'), QUICKSTART_CONFIG, str(tmp_path / 'x.pth'))
    assert no_ckpt.returncode == 2 and 'x.pth' in no_ckpt.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _torchrun(*args: str, port: int) -> subprocess.CompletedProcess:
    return run_tool('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr',
                    '127.0.0.1', '--master_port', str(port), str(TOOLS / 'train.py'), *args,
                    '--launcher', 'pytorch', timeout=400)


def test_two_process_ddp_training_with_gloo_resumes_bit_identically(tiny_train_config, tmp_path):
    """Two gloo processes split the data; a run resumed after epoch 1 ends bit for bit where the
    uninterrupted one ends; both processes exit cleanly (the process group is destroyed before
    the interpreter exits, or gloo's threads abort it: "terminate called without an active
    exception")."""
    from test_exact_resume import assert_same_training_state
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    opts = ['--cfg-options', 'train_dataloader.dataset.indices=16']
    proc = _ok(_torchrun(str(tiny_train_config), '--work-dir', str(full), *opts,
                         port=_free_port()))
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'MMDistributedDataParallel' in log
    assert 'terminate called' not in log
    # 16 samples, batch 4 per process: 2 iterations per epoch only if the two processes split
    # the data between them (one process alone would take 4).
    assert safe_load(full / 'epoch_1.pth')['meta']['iter'] == 2
    resumed.mkdir()
    shutil.copy(full / 'epoch_1.pth', resumed / 'epoch_1.pth')
    # The resumed run's ranks are forked processes with torchrun's environment (no new
    # interpreters to start): the same computation, one intra-op thread as above.
    from forked_tool import finish_tool
    ranks = _start_ranks([str(tiny_train_config), '--work-dir', str(resumed), '--resume',
                          str(resumed / 'epoch_1.pth'), *opts, '--launcher', 'pytorch'])
    results = [finish_tool(rank, timeout=400) for rank in ranks]
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-3000:]
    assert_same_training_state(safe_load(full / 'epoch_2.pth'), safe_load(resumed / 'epoch_2.pth'))


def _start_ranks(argv: list[str], world: int = 2) -> list:
    """``tools/train.py argv`` as ``world`` forked ranks with torchrun's environment."""
    from forked_tool import start_tool
    port = _free_port()
    return [start_tool('train', argv, env=dict(
        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))) for rank in range(world)]


def _read(handle) -> str:
    return os.pread(handle.fileno(), 1 << 22, 0).decode(errors='replace')


def test_a_stopped_rank_is_named_when_the_distributed_timeout_fires(tiny_train_config):
    """Rank 1 is stopped (SIGSTOP) mid-training; rank 0 does not wait silently: after
    env_cfg.dist_cfg.timeout it stops with one line naming rank 1. The ranks run as forked
    processes with torchrun's environment."""
    from forked_tool import finish_tool
    work = Path(tiny_train_config).parent / f'hung_{_free_port()}'
    ranks = _start_ranks([str(tiny_train_config), '--launcher', 'pytorch', '--work-dir',
                          str(work), '--cfg-options', 'train_dataloader.dataset.indices=16',
                          'train_cfg.max_epochs=100', 'train_cfg.val_interval=100',
                          'env_cfg.dist_cfg.timeout=4'])
    try:
        deadline = time.time() + 240
        while not re.search(r'Epoch\(train\)\s+\[1\]\[1/2\]', _read(ranks[0][1])):
            assert time.time() < deadline and os.waitpid(ranks[0][0], os.WNOHANG)[0] == 0, \
                _read(ranks[0][2])[-3000:]
            time.sleep(0.2)
        os.kill(ranks[1][0], signal.SIGSTOP)
        stopped = time.time()
        rank0 = finish_tool(ranks[0], timeout=120)
        waited = time.time() - stopped
    finally:
        os.kill(ranks[1][0], signal.SIGKILL)
        finish_tool(ranks[1], timeout=30)
    assert rank0.returncode == 1, rank0.stderr[-3000:]
    lines = rank0.error_lines
    assert len(lines) == 1 and 'rank 1 did not answer' in lines[0], rank0.stderr[-3000:]
    assert 'env_cfg.dist_cfg.timeout = 4 s' in lines[0]
    assert waited < 60  # the 4 s timeout and the monitored barrier, not 30 minutes


def test_compiled_bf16_training_runs_and_saves_a_loadable_checkpoint(tiny_synth, tmp_path):
    """The GPU recipe (--compile, --amp) exercised on the CPU: torch.compile of mmengine's
    training step with bf16 autocast, two iterations, a checkpoint poseforge loads safely with
    plain (not ``_orig_mod.``) keys and finite weights."""
    work = tmp_path / 'work'
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 2})
    _ok(run_tool(str(TOOLS / 'train.py'), QUICKSTART_CONFIG, '--work-dir', str(work),
                 '--compile', '--amp', *as_cli(opts), timeout=600))
    ckpt = safe_load(_last_checkpoint(work))
    assert ckpt['meta']['iter'] == 2
    weights = {k: v for k, v in ckpt['state_dict'].items() if v.is_floating_point()}
    assert not any(k.startswith('_orig_mod') for k in weights)  # plain module keys
    assert all(torch.isfinite(v).all() for v in weights.values())
