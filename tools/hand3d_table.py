#!/usr/bin/env python
"""3D hand results table: 2D-only CPM vs the 3D estimator vs DGGAN, same budget and seed.

    python tools/hand3d_table.py [--data-root data/synth_hands] [--iters 600] [--batch 16]
                                 [--regularizer-iters 300] [--gan-iters 300] [--seed 0]
                                 [--threads 1]
                                 [--work-dir work_dirs/hand3d_table] [--out FILE.md]

Rows (all on the light CPM trunk, 128 x 128 crops, the generated hands' test split):

* **CPM (2D only)**: ``configs/quickstart/cpm-light_synth-hands-128.py``, ``--iters`` iterations;
* **3D estimator**: ``configs/hand3d/hand3d_cpm-light_synth-hands-128.py`` (heatmaps + relative
  depth, no regulariser), ``--iters`` iterations;
* **DGGAN**: the four stage configs of ``configs/dggan/``, each starting from the previous one:
  the pose network ``--iters / 2`` iterations alone, the regulariser ``--regularizer-iters`` on
  ground-truth pose / depth pairs, the GAN ``--gan-iters``, then ``--iters / 2`` joint
  iterations. The pose network so gets the same ``--iters`` updates as the other rows; the
  regulariser and the GAN train extra (stated in the table);
* **DGGAN without the regulariser's loss** (``--rows dggan-noreg``, after a ``dggan`` row in the
  same ``--work-dir``): the joint stage again from the same GAN-stage checkpoint with
  ``model.regularizer_weight=0``, so that the staging, the optimiser restarts and the GAN are
  the same and only the L1 between the rendered pose and the generated depth is missing.

Every row: the same seed, batch size and data; the pose network's optimiser is the same Adam
(lr ``--lr``) with a constant rate in every row (DGGAN's generator, discriminator and
regulariser keep the paper's Adam 1e-4, betas (0.5, 0.999)). Each stage trains with
``tools/train.py`` and is evaluated with ``tools/eval.py`` on the test split; the table reports
2D PCK@0.2, 3D EPE (mm) and AUC 20-50 mm with the granted ground-truth root depth and bone length
(the hand3d / DGGAN protocol) and without (root depth estimated, bone length a prior), and the
wall time. Nothing is tuned per row.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

from _common import ROOT_DIR

CPM_CONFIG = 'configs/quickstart/cpm-light_synth-hands-128.py'
HAND3D_CONFIG = 'configs/hand3d/hand3d_cpm-light_synth-hands-128.py'
DGGAN_STAGES = ('stage1-pose', 'stage2-regularizer', 'stage3-gan', 'stage4-joint')
DGGAN_CONFIG = 'configs/dggan/dggan_cpm-light_synth-hands-128_{}.py'
GIVEN = 'gt-root-depth+bone'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synth_hands')
    parser.add_argument('--iters', type=int, default=600, help='pose-network updates per row')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--lr', type=float, default=2e-3, help="the pose network's Adam lr")
    parser.add_argument('--regularizer-iters', type=int, default=300)
    parser.add_argument('--gan-iters', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=1, help='dataloader workers')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads per process (OMP_NUM_THREADS)')
    parser.add_argument('--work-dir', default='work_dirs/hand3d_table')
    parser.add_argument('--out', default=None, help='markdown table (default: in --work-dir)')
    parser.add_argument('--rows', nargs='+', default=['cpm', 'hand3d', 'dggan'],
                        choices=['cpm', 'hand3d', 'dggan', 'dggan-noreg'])
    return parser.parse_args(argv)


def run(args: list[str], log: str, threads: int = 1) -> None:
    """A tool in a subprocess, its output kept in ``log``; a failure shows the log's tail.

    ``threads`` sets the subprocess's OpenMP / MKL threads: on a CPU shared with other jobs,
    one intra-op thread per process runs several times faster than one per core, whose threads
    wait at every barrier for a core another job holds."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, 'w') as f:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT_DIR, stdout=f,
                              stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"{' '.join(args[:2])} failed (log: {log}):\n{tail}")


def train_config(config: str, work_dir: str, threads: int) -> tuple[str, float]:
    """``(last checkpoint, seconds)`` of ``tools/train.py config`` run into ``work_dir``."""
    start = time.time()
    run(['tools/train.py', config, '--work-dir', work_dir], osp.join(work_dir, 'train.log'),
        threads)
    seconds = time.time() - start
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip(), seconds


def stage_config(base: str, work_dir: str, iters: int, args: argparse.Namespace,
                 load_from: str | None, pose_lr: bool, extra: tuple[str, ...] = ()) -> str:
    """A config in ``work_dir`` that inherits ``base`` and sets the shared budget."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    lines = [
        f'_base_ = [{osp.join(ROOT_DIR, base)!r}]',
        f'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters={iters}, '
        f'val_interval={iters}, val_begin={iters + 1})',
        'param_scheduler = []',
        f'randomness = dict(seed={args.seed})',
        f'load_from = {load_from!r}',
        'log_processor = dict(by_epoch=False)',
        f'default_hooks = dict(logger=dict(interval=10), checkpoint=dict(by_epoch=False, '
        f'interval={iters}, save_best=None, max_keep_ckpts=1))',
    ]
    for split in ('train', 'val', 'test'):
        batch = f'batch_size={args.batch}, ' if split == 'train' else ''
        lines.append(f'{split}_dataloader = dict({batch}num_workers={args.workers}, '
                     f'persistent_workers={args.workers > 0}, '
                     f'dataset=dict(data_root={args.data_root!r}))')
    if pose_lr:
        if 'dggan' in base:
            lines.append(f"optim_wrapper = dict(pose_net=dict(optimizer=dict(type='Adam', "
                         f"lr={args.lr}, betas=(0.9, 0.999))))")
        else:
            lines.append(f"optim_wrapper = dict(optimizer=dict(type='Adam', lr={args.lr}))")
    lines += list(extra)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def train_and_eval(base: str, work_dir: str, iters: int, args: argparse.Namespace,
                   load_from: str | None = None, pose_lr: bool = True,
                   evaluate: bool = True, extra: tuple[str, ...] = ()
                   ) -> tuple[str, dict, float]:
    """``(checkpoint, metrics, seconds)`` of one training run (and its test evaluation)."""
    config = stage_config(base, work_dir, iters, args, load_from, pose_lr, extra)
    ckpt, seconds = train_config(config, work_dir, args.threads)
    metrics: dict = {}
    if evaluate:
        out = osp.join(work_dir, 'metrics.json')
        run(['tools/eval.py', config, ckpt, '--work-dir', work_dir, '--out', out],
            osp.join(work_dir, 'eval.log'), args.threads)
        with open(out) as f:
            metrics = json.load(f)
    return ckpt, metrics, seconds


def row_values(name: str, metrics: dict, seconds: float, note: str) -> dict:
    def pick(key: str):
        return metrics.get(key)
    return {
        'model': name, 'PCK@0.2': pick('PCK@0.2'),
        'EPE3D given': pick(f'EPE3D/wrist/{GIVEN}'),
        'AUC given': pick(f'AUC3D_20-50/wrist/{GIVEN}'),
        'EPE3D est': pick('EPE3D/wrist/no-gt'),
        'AUC est': pick('AUC3D_20-50/wrist/no-gt'),
        'minutes': seconds / 60.0, 'note': note,
    }


ROW_ORDER = ('cpm', 'hand3d', 'dggan_stage1', 'dggan', 'dggan_noreg')


def save_row(work: str, key: str, row: dict) -> None:
    """Each row is kept in ``<work>/rows/<key>.json``, so that rerunning some rows
    (``--rows``) rebuilds the whole table with the others' last results."""
    os.makedirs(osp.join(work, 'rows'), exist_ok=True)
    with open(osp.join(work, 'rows', f'{key}.json'), 'w') as f:
        json.dump(row, f, indent=1)


def saved_rows(work: str) -> list[dict]:
    rows = []
    for key in ROW_ORDER:
        path = osp.join(work, 'rows', f'{key}.json')
        if osp.isfile(path):
            with open(path) as f:
                rows.append(json.load(f))
    return rows


def write_table(rows: list[dict], args: argparse.Namespace, path: str) -> str:
    def fmt(value, digits):
        return '—' if value is None else f'{value:.{digits}f}'
    lines = [
        f'Generated hands ({args.data_root}, test split), light CPM trunk, 128 x 128 crops; '
        f'every row {args.iters} pose-network iterations at batch {args.batch}, seed '
        f'{args.seed}, Adam {args.lr:g} constant; 3D root: the wrist.',
        '',
        '| model | PCK@0.2 | 3D EPE mm (GT root depth + bone) | AUC 20-50 (GT root depth + '
        'bone) | 3D EPE mm (estimated) | AUC 20-50 (estimated) | train min | budget |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {fmt(r['PCK@0.2'], 3)} | {fmt(r['EPE3D given'], 1)} | "
                     f"{fmt(r['AUC given'], 3)} | {fmt(r['EPE3D est'], 1)} | "
                     f"{fmt(r['AUC est'], 3)} | {r['minutes']:.1f} | {r['note']} |")
    text = '\n'.join(lines) + '\n'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return text


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    if not osp.isfile(osp.join(ROOT_DIR, args.data_root, 'annotations', 'test.json')):
        raise SystemExit(f"no generated hands in '{args.data_root}': run tools/generate_dataset.py "
                         f'--out {args.data_root} --num 2000 --views 2 --seed 0 --size 128')
    work = osp.join(ROOT_DIR, args.work_dir)
    if 'cpm' in args.rows:
        _, metrics, sec = train_and_eval(CPM_CONFIG, osp.join(work, 'cpm'), args.iters, args)
        save_row(work, 'cpm', row_values('CPM (2D only)', metrics, sec, f'{args.iters} it'))
    if 'hand3d' in args.rows:
        _, metrics, sec = train_and_eval(HAND3D_CONFIG, osp.join(work, 'hand3d'), args.iters,
                                         args)
        save_row(work, 'hand3d', row_values('3D estimator (no regulariser)', metrics, sec,
                                            f'{args.iters} it'))
    if 'dggan' in args.rows:
        half = args.iters // 2
        plan = [(DGGAN_STAGES[0], half, True, True),
                (DGGAN_STAGES[1], args.regularizer_iters, False, False),
                (DGGAN_STAGES[2], args.gan_iters, False, False),
                (DGGAN_STAGES[3], args.iters - half, True, True)]
        ckpt, total, metrics = None, 0.0, {}
        stage_metrics, stage_seconds = {}, {}
        for stage, iters, pose_lr, evaluate in plan:
            ckpt, metrics, sec = train_and_eval(DGGAN_CONFIG.format(stage),
                                                osp.join(work, f'dggan_{stage}'), iters, args,
                                                load_from=ckpt, pose_lr=pose_lr,
                                                evaluate=evaluate)
            total += sec
            stage_metrics[stage], stage_seconds[stage] = metrics, sec
        save_row(work, 'dggan_stage1', row_values(
            'DGGAN after stage 1 (pose network alone)', stage_metrics[DGGAN_STAGES[0]],
            stage_seconds[DGGAN_STAGES[0]], f'{half} it'))
        save_row(work, 'dggan', row_values(
            'DGGAN (4 stages)', metrics, total, f'{half} + {args.iters - half} pose it; '
            f'regulariser {args.regularizer_iters} it, GAN {args.gan_iters} it'))
    if 'dggan-noreg' in args.rows:
        pointer = osp.join(work, f'dggan_{DGGAN_STAGES[2]}', 'last_checkpoint')
        if not osp.isfile(pointer):
            raise SystemExit(f"--rows dggan-noreg needs a dggan row's GAN stage in {work} "
                             '(run --rows dggan first)')
        with open(pointer) as f:
            gan_ckpt = f.read().strip()
        half = args.iters // 2
        _, metrics, sec = train_and_eval(
            DGGAN_CONFIG.format(DGGAN_STAGES[3]), osp.join(work, 'dggan_noreg_stage4-joint'),
            args.iters - half, args, load_from=gan_ckpt,
            extra=('model = dict(regularizer_weight=0.0)',))
        save_row(work, 'dggan_noreg', row_values(
            'DGGAN, regulariser loss off in the joint stage', metrics, sec,
            f'joint stage only: {args.iters - half} it from the DGGAN row\'s GAN stage'))
    rows = saved_rows(work)
    out = args.out or osp.join(work, 'hand3d_table.md')
    print(write_table(rows, args, out))
    with open(osp.splitext(out)[0] + '.json', 'w') as f:
        json.dump(rows, f, indent=1)
    print(f'table written to {out}')
    return rows


if __name__ == '__main__':
    main()
