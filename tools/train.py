#!/usr/bin/env python
"""Train a model from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--compile]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

Multi-GPU / multi-node: ``torchrun --nproc_per_node N tools/train.py CONFIG --launcher pytorch``
(DistributedDataParallel through mmengine; gloo on CPU-only nodes).
"""
from __future__ import annotations

import argparse

from _common import add_cfg_options, default_work_dir, user_errors_exit

from poseforge.engine.distributed import prepare_distributed
from poseforge.engine.runner import PoseRunner
from poseforge.utils.config import load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or from the work dir\'s last checkpoint')
    parser.add_argument('--amp', action='store_true',
                        help='bfloat16 autocast (CPU with bf16 support, or GPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step (mmengine cfg.compile)')
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # torch.distributed.launch compatibility
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace):
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if args.amp:
        cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
    if args.compile:
        cfg.compile = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    prepare_distributed(cfg, args.launcher)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    with user_errors_exit('train.py'):
        cfg = build_cfg(args)
        runner = PoseRunner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
