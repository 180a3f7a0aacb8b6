"""Distributed set-up that also works without GPUs.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally, and its
default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on CPU-only nodes. With CUDA
present poseforge leaves everything to mmengine; without it, it starts the process group with
gloo itself (mmengine then sees it initialised and skips its own) and wraps the model with
``device_ids=None``. Processes are launched by torchrun (``--launcher pytorch``) or slurm, never
by poseforge.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def prepare_distributed(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` and, on CPU-only nodes, initialise gloo and a CPU DDP wrapper."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


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
