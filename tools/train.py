#!/usr/bin/env python
"""Train a model from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--load-from CKPT [--partial]]
                                 [--force] [--amp] [--compile] [--cfg-options k=v ...]
                                 [--launcher none|pytorch|slurm]

Multi-GPU / multi-node: ``torchrun --nproc_per_node N tools/train.py CONFIG --launcher pytorch``
(DistributedDataParallel through mmengine; gloo on CPU-only nodes).

Before anything is built: the config is checked (unknown keys and types), the work dir is
locked for this run (``--force`` takes over a live run's lock; a dead run's lock is taken over
anyway) and leftovers of a killed save are removed. ``--resume`` with nothing to resume says so
and trains from scratch. Exit status 2 with one line per problem for bad input.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import re
import sys

from _common import add_cfg_options, default_work_dir, error_lines, user_errors_exit

from poseforge.engine.checkpoint import check_checkpoint_file
from poseforge.engine.distributed import (dist_timeout, is_collective_failure,
                                          make_monitor_group, name_unresponsive_ranks,
                                          prepare_distributed, shutdown_distributed)
from poseforge.engine.runner import PoseRunner
from poseforge.engine.workdir import WorkDirLock
from poseforge.utils.config import load_config
from poseforge.utils.fileio import remove_stale_temporaries

TOOL = 'train.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or from the work dir\'s last checkpoint (none '
                        'there: say so and train from scratch)')
    parser.add_argument('--load-from', metavar='CKPT',
                        help='start from these weights (a new run: epoch 0, fresh optimizer)')
    parser.add_argument('--partial', action='store_true',
                        help='with --load-from: load the weights that fit the model and report '
                        'the rest (fine-tuning from another model); default: all must fit')
    parser.add_argument('--force', action='store_true',
                        help='train even if another run holds the work dir\'s lock')
    parser.add_argument('--amp', action='store_true',
                        help='bfloat16 autocast (CPU with bf16 support, or GPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step (mmengine cfg.compile)')
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # torch.distributed.launch compatibility
    args = parser.parse_args(argv)
    if args.partial and args.resume:
        parser.error('--partial cannot go with --resume: a resumed run loads every weight')
    if args.load_from and args.resume:
        parser.error('--load-from starts a new run from weights; --resume continues one: '
                     'choose one')
    return args


def _resume_target(work_dir: str) -> str | None:
    """The checkpoint ``last_checkpoint`` names, ``None`` when the work dir has none."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        target = f.read().strip()
    if not target:
        raise FileNotFoundError(f"--resume: '{pointer}' is empty; pass the checkpoint to "
                                'resume from: --resume WORK_DIR/epoch_N.pth')
    beside = osp.join(work_dir, osp.basename(target))  # a relative path from another cwd
    if not osp.isfile(target) and osp.isfile(beside):
        target = beside
    if not osp.isfile(target):
        raise FileNotFoundError(f"--resume: '{pointer}' names '{target}', which does not "
                                'exist; pass another checkpoint: --resume CKPT')
    return target


def build_cfg(args: argparse.Namespace, distributed: bool = True):
    """The checked config with the command line applied (and the process group started,
    unless ``distributed=False``)."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if args.amp:
        cfg.optim_wrapper.type = 'BF16AutocastOptimWrapper'
    if args.compile:
        cfg.compile = True
    if args.load_from:
        cfg.load_from, cfg.resume = args.load_from, False
    if args.partial:
        if not cfg.get('load_from'):
            raise FileNotFoundError('--partial: there is nothing to load; give the weights '
                                    'with --load-from CKPT')
        cfg.load_strict = False
    if args.resume == 'auto':
        target = _resume_target(cfg.work_dir)
        if target is not None:
            cfg.resume, cfg.load_from = True, target
        else:  # a new run: it starts as the config says (its load_from, if any, is kept)
            cfg.resume = False
            start = (f"starting from the config's load_from '{cfg.load_from}'"
                     if cfg.get('load_from') else 'training from scratch')
            if _rank() == 0:
                print(f"{TOOL}: --resume: nothing to resume in '{cfg.work_dir}' (no "
                      f'last_checkpoint): {start}', file=sys.stderr)
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('load_from'):  # an unreadable file is named now, not after the data has loaded
        check_checkpoint_file(cfg.load_from)
    if distributed:
        prepare_distributed(cfg, args.launcher)
    return cfg


def _rank() -> int:
    """This process's global rank before the process group exists (torchrun sets ``RANK``,
    slurm ``SLURM_PROCID``)."""
    return int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0')))


def lock_work_dir(work_dir: str, force: bool) -> WorkDirLock | None:
    """Rank 0 locks the work dir (and so checks it can be written) and clears leftovers of a
    killed save; other ranks write nothing there."""
    if _rank() != 0:
        return None
    lock = WorkDirLock(work_dir, force=force).acquire()
    if lock.notice:
        print(f'{TOOL}: {lock.notice}', file=sys.stderr)
    for path in remove_stale_temporaries(work_dir):
        print(f"{TOOL}: removed '{path}', left by a save that was interrupted",
              file=sys.stderr)
    return lock


def main(argv=None) -> None:
    args = parse_args(argv)
    lock = None
    try:
        with user_errors_exit(TOOL):
            cfg = build_cfg(args, distributed=False)
            lock = lock_work_dir(cfg.work_dir, args.force)
            prepare_distributed(cfg, args.launcher)
            runner = PoseRunner.from_cfg(cfg)
            make_monitor_group(dist_timeout(cfg))
            try:
                runner.train()
            except RuntimeError as err:
                if cfg.launcher == 'none' or not is_collective_failure(err):
                    raise
                # The first line of the error, without gloo's "[source file:line]" prefix.
                cause = re.sub(r'^\[[^\]]*\]\s*', '', error_lines(err)[0])[:160]
                print(f'{TOOL}: error: a collective operation failed ({cause}); '
                      f'{name_unresponsive_ranks()}. Timeout: env_cfg.dist_cfg.timeout = '
                      f'{dist_timeout(cfg):g} s', file=sys.stderr, flush=True)
                sys.exit(1)
    finally:
        if lock is not None:
            lock.release()
        shutdown_distributed()


if __name__ == '__main__':
    main()
