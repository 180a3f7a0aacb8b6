"""Distributed set-up that also works without GPUs, with a timeout that names the stuck rank.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally, and its
default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on CPU-only nodes. With CUDA
present poseforge leaves everything to mmengine; without it, it starts the process group with
gloo itself (mmengine then sees it initialised and skips its own) and wraps the model with
``device_ids=None``. Processes are launched by torchrun (``--launcher pytorch``) or slurm, never
by poseforge.

Timeouts: a rank that stops answering (stopped, swapped out, deadlocked) would block the others
in their next collective for torch's default 30 minutes, silently. The timeout is
``env_cfg.dist_cfg.timeout`` (seconds, :data:`DEFAULT_TIMEOUT_S` in the base runtime config).
When a collective fails (timeout, or a peer that died), :func:`name_unresponsive_ranks` runs a
``monitored_barrier`` on a side gloo group made at start-up, which tells rank 0 exactly which
ranks did not answer; the tool then stops with that in one line.
"""
from __future__ import annotations

import datetime
import os
import re

import torch
import torch.distributed as dist
from mmengine.config import Config

#: Seconds a collective waits for a rank that does not answer (``env_cfg.dist_cfg.timeout``).
DEFAULT_TIMEOUT_S = 600
#: Longest wait of the monitored barrier for the other ranks after a failed collective (it
#: waits as long as the collective timeout when that is shorter).
MONITOR_TIMEOUT_S = 30

_monitor_group = None
_monitor_timeout_s = MONITOR_TIMEOUT_S


def dist_timeout(cfg: Config) -> float:
    """``env_cfg.dist_cfg.timeout`` in seconds, or :data:`DEFAULT_TIMEOUT_S`."""
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    return float(dist_cfg.get('timeout', DEFAULT_TIMEOUT_S))


def prepare_distributed(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` and, on CPU-only nodes, initialise gloo (with the config's
    timeout) and a CPU DDP wrapper; under any launcher, make the side group that
    :func:`name_unresponsive_ranks` uses."""
    cfg.launcher = launcher
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        # mmengine's init_dist reads env_cfg.dist_cfg (timeout included) itself.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {}).setdefault(
            'timeout', DEFAULT_TIMEOUT_S)
        return
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo',
                                timeout=datetime.timedelta(seconds=dist_timeout(cfg)))
    make_monitor_group(dist_timeout(cfg))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def make_monitor_group(timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Make the gloo side group for :func:`name_unresponsive_ranks` (a collective: every rank
    calls it once, after the process group exists; a no-op without one)."""
    global _monitor_group, _monitor_timeout_s
    if dist.is_initialized() and dist.get_world_size() > 1 and _monitor_group is None:
        _monitor_timeout_s = min(MONITOR_TIMEOUT_S, timeout_s)
        _monitor_group = dist.new_group(
            backend='gloo', timeout=datetime.timedelta(seconds=_monitor_timeout_s))


def name_unresponsive_ranks() -> str:
    """After a failed collective: a sentence naming the ranks that did not answer.

    Every live rank comes here when its collective fails; rank 0 waits (up to the collective
    timeout, at most :data:`MONITOR_TIMEOUT_S`) for the others at a ``monitored_barrier`` and
    learns which ones never arrive. The other ranks only hear from rank 0, so their sentence is
    about rank 0.
    """
    if not dist.is_initialized() or _monitor_group is None:
        return 'the ranks could not be asked which one is stuck (no monitor group)'
    rank = dist.get_rank()
    try:
        dist.monitored_barrier(group=_monitor_group, wait_all_ranks=True,
                               timeout=datetime.timedelta(seconds=_monitor_timeout_s))
    except RuntimeError as err:
        found = re.search(r'Ranks? ([\d, ]+) failed to pass monitoredBarrier', str(err))
        if rank == 0 and found:
            ranks = found.group(1).strip().rstrip(',')
            plural = 's' if ',' in ranks else ''
            return f'rank{plural} {ranks} did not answer (stopped, hung or dead)'
        if rank != 0:
            return f'rank 0 did not answer (stopped, hung or dead); this is rank {rank}'
        return f'the ranks could not be asked which one is stuck ({err})'
    return 'every rank answered afterwards (a transient network failure?)'


_COLLECTIVE_FAILURE = re.compile(
    r'timed out|timeout|connection (?:closed|reset|refused)|broken pipe|gloo|nccl|'
    r'monitoredbarrier|socket', re.I)


def is_collective_failure(err: BaseException) -> bool:
    """Whether ``err`` is a failed collective (a timeout, a dead peer), not a bug of this rank
    that should keep its traceback."""
    return isinstance(err, dist.DistError) or bool(_COLLECTIVE_FAILURE.search(str(err)))


def shutdown_distributed() -> None:
    """Destroy the process group before the interpreter exits: gloo's threads must be joined
    before Python tears down, or the process aborts at exit ("terminate called without an
    active exception", SIGABRT) and torchrun reports a failed rank."""
    global _monitor_group
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _monitor_group = None


def _slurm_env_to_torch_env() -> None:
    """Translate slurm's variables into the ones ``init_process_group`` reads (env://)."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        import subprocess
        nodes = os.environ['SLURM_NODELIST']
        first = subprocess.getoutput(f'scontrol show hostname {nodes} | head -n1')
        os.environ['MASTER_ADDR'] = first
