#!/usr/bin/env python
"""Train several models with the same budget and seed, and compare them side by side.

    python tools/compare.py [--configs CFG ...] [--data-root DIR] [--epochs N]
                            [--work-dir work_dirs/compare] [--out docs/compare.md]
                            [--threads N] [--collect] [--cfg-options k=v ...]

Defaults: CPM, NSRM (LPM, G1&6), SIA-GCN and R-MGMN, all on the quick start's light trunk and
generated hands (made when ``--data-root`` is missing: the quick start's size and seed in the
generator's default, realistic look; ``make quickstart`` itself generates the legacy look). Each
model trains with tools/train.py, is evaluated with tools/eval.py on the test split, and is
measured with tools/benchmark.py; the result is a markdown table (PCK@0.2, AUC, EPE, the NSRM
paper's mean PCK over t = 0.04 .. 0.12 of the tight box from the arg-max cells, parameters,
train samples/s, inference ms/image) and a PCK-vs-threshold plot beside it. A model whose head
can predict from more than one output (R-MGMN: BP marginals or its own unary branch) gets one
row per output, evaluated from the same checkpoint. On real data pass dataset configs (e.g.
configs/cpm/cpm_vgg19_onehand10k-368.py and the NSRM ones).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

from _common import ROOT_DIR

import numpy as np
from poseforge.utils.fileio import atomic_write_text
from poseforge.visualization.plots import save_figure

DEFAULT_CONFIGS = [
    'configs/quickstart/cpm-light_synth-hands-128.py',
    'configs/nsrm/nsrm_lpm-g1and6_synth-hands-128.py',
    'configs/sia_gcn/sia-gcn_light_synth-hands-128.py',
    'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py',
]
THRESHOLDS = np.linspace(0.0, 0.3, 31)
#: extra rows per head type: (row suffix, cfg options) evaluated from the same checkpoint
EXTRA_OUTPUTS = {'RMGMNHead': [(' (unary branch)', ['model.head.predict_from=unary'])]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    parser.add_argument('--data-root', default='data/synth_hands',
                        help='dataset root given to every config (empty: keep the configs\')')
    parser.add_argument('--epochs', type=int, default=None, help='same budget for every model')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument('--out', default=None, help='markdown table (default: in --work-dir)')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads of every training, evaluation and timing (2; on a '
                             'machine shared with other jobs 1 can be several times faster)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--collect', action='store_true',
                        help='run nothing: build the table and plot from the rows earlier runs '
                             'wrote in --work-dir (e.g. configs trained by parallel runs)')
    return parser.parse_args(argv)


#: torch threads of every child process (set from ``--threads`` by :func:`main`)
THREADS = [2]


def run(args: list[str]) -> str:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS[0]), MKL_NUM_THREADS=str(THREADS[0]))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT_DIR, capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def common_options(args: argparse.Namespace) -> list[str]:
    # Every model from scratch (R-MGMN's staged configs otherwise load the previous stage).
    opts = [f'randomness.seed={args.seed}', 'load_from=None', *args.cfg_options]
    if args.data_root:
        opts += [f'{s}_dataloader.dataset.data_root={args.data_root}'
                 for s in ('train', 'val', 'test')]
    if args.epochs:
        opts += [f'train_cfg.max_epochs={args.epochs}', f'train_cfg.val_interval={args.epochs}']
    return opts


def ensure_data(data_root: str) -> None:
    if data_root and not osp.isfile(osp.join(ROOT_DIR, data_root, 'annotations', 'test.json')):
        run(['tools/generate_dataset.py', '--out', data_root, '--num', '2000', '--views', '2',
             '--seed', '0', '--size', '256'])


def parameter_count(config: str) -> int:
    from mmengine.registry import init_default_scope

    from poseforge.registry import MODELS
    from poseforge.utils.config import load_config
    init_default_scope('poseforge')
    model = MODELS.build(load_config(osp.join(ROOT_DIR, config)).model)
    return sum(p.numel() for p in model.parameters())


def head_type(config: str) -> str:
    from poseforge.utils.config import load_config
    return str(load_config(osp.join(ROOT_DIR, config)).model.get('head', {}).get('type', ''))


def _pck_curve(records: list[dict]) -> np.ndarray:
    from poseforge.evaluation.functional import pck_curve
    pred = np.array([r['pred_keypoints'] for r in records], np.float32)
    gt = np.array([r['keypoints'] for r in records], np.float32)
    mask = np.array([r['keypoints_visible'] for r in records]) > 0
    boxes = np.array([r['bbox'] for r in records], np.float32)
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return pck_curve(pred, gt, mask, np.stack([side, side], 1), THRESHOLDS)[1]


def pck_vs_threshold(dump_file: str) -> np.ndarray:
    """PCK (box-normalised, strict <) at each of :data:`THRESHOLDS` from a predictions dump."""
    return _pck_curve(json.loads(Path(dump_file).read_text()))


def dump_metrics(dump_file: str) -> dict:
    """From a predictions dump: PCK (box-normalised, strict <) at each of :data:`THRESHOLDS`
    and the NSRM paper's mPCK (mean over its thresholds) of the arg-max-cell predictions."""
    from poseforge.evaluation.functional import nsrm_pck
    records = json.loads(Path(dump_file).read_text())
    curve = _pck_curve(records)
    gt = np.array([r['keypoints'] for r in records], np.float32)
    mask = np.array([r['keypoints_visible'] for r in records]) > 0
    mpck = float('nan')
    if records and all('pred_keypoints_grid' in r for r in records):
        grid = np.array([r['pred_keypoints_grid'] for r in records], np.float32)
        mpck = float(nsrm_pck(grid, gt, mask).mean())
    return dict(pck_curve=curve.tolist(), nsrm_mpck=mpck)


def evaluate_checkpoint(config: str, ckpt: str, work: str, tag: str, opts: list[str]) -> dict:
    """tools/eval.py on the test split: its metrics plus :func:`dump_metrics`."""
    metrics_file = osp.join(work, f'metrics{tag}.json')
    dump = osp.join(work, f'predictions{tag}.json')
    run(['tools/eval.py', config, ckpt, '--work-dir', work, '--out', metrics_file, '--dump',
         dump, '--cfg-options', *opts])
    return dict(metrics=json.loads(Path(ROOT_DIR, metrics_file).read_text()),
                **dump_metrics(osp.join(ROOT_DIR, dump)))


def evaluate_one(config: str, args: argparse.Namespace) -> list[dict]:
    """Train, evaluate and benchmark one config: its row, then one row per extra output of
    its head (:data:`EXTRA_OUTPUTS`) from the same checkpoint, timing columns shared."""
    name = Path(config).stem
    work = osp.join(args.work_dir, name)
    opts = common_options(args)
    run(['tools/train.py', config, '--work-dir', work, '--resume', '--cfg-options', *opts])
    ckpt = Path(ROOT_DIR, work, 'last_checkpoint').read_text().strip()
    evaluated = evaluate_checkpoint(config, ckpt, work, '', opts)
    bench_opts = [o for o in opts if o.startswith(('train_dataloader', 'val_', 'test_'))]
    train = json.loads(run(['tools/benchmark.py', 'train', config, '--batch-size', '32',
                            '--iters', '5', '--threads', str(THREADS[0]), '--cfg-options',
                            *bench_opts]).strip().splitlines()[-1])
    infer = json.loads(run(['tools/benchmark.py', 'infer', config, '--batch-size', '1',
                            '--iters', '30', '--threads', str(THREADS[0]), '--cfg-options',
                            *bench_opts]).strip().splitlines()[-1])
    row = dict(name=name, config=config, params=parameter_count(config),
               train_samples_per_s=train['samples_per_s'], infer_ms=infer['ms_per_image'],
               **evaluated)
    rows = [row]
    for i, (suffix, extra) in enumerate(EXTRA_OUTPUTS.get(head_type(config), []), start=1):
        rows.append(dict(row, name=name + suffix, cfg_options=extra,
                         **evaluate_checkpoint(config, ckpt, work, f'_{i}', opts + extra)))
    atomic_write_text(json.dumps(dict(options=opts, rows=rows)), Path(ROOT_DIR, work, ROWS_FILE))
    return rows


#: each config's rows (and the options they were run with), in its work dir
ROWS_FILE = 'compare_rows.json'


def collected_rows(config: str, args: argparse.Namespace) -> list[dict]:
    """The rows an earlier run wrote for ``config``; an error when they are missing or were
    run with other options (another budget, seed or data), so a table never mixes runs."""
    path = Path(ROOT_DIR, args.work_dir, Path(config).stem, ROWS_FILE)
    if not path.is_file():
        raise SystemExit(f'--collect: no rows for {config} ({path} is missing: run it first)')
    saved = json.loads(path.read_text())
    if saved['options'] != common_options(args):
        raise SystemExit(f'--collect: {path} was run with {saved["options"]}, not '
                         f'{common_options(args)}')
    return saved['rows']


def write_table(rows: list[dict], args: argparse.Namespace, path: str) -> str:
    budget = f'{args.epochs} epochs' if args.epochs else "each config's own schedule"
    threads = getattr(args, 'threads', 2)
    lines = [f'Same seed ({args.seed}) and budget ({budget}) for every model; data: '
             f'`{args.data_root or "the configs"}`. Train samples/s: batch 32, {threads} '
             f'thread(s); inference: batch 1, {threads} thread(s).', '',
             'NSRM-mPCK: the NSRM paper\'s PCK (arg-max cells, t x tight keypoint box, mean over '
             't = 0.04 .. 0.12). Rows marked "(unary branch)" evaluate the row above\'s '
             'checkpoint from another output of its head (same model, same timings).', '',
             '| model | PCK@0.2 | AUC | EPE (px) | NSRM-mPCK | parameters | train samples/s | '
             'inference ms/image |', '|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        m = r['metrics']
        lines.append(f"| {r['name']} | {m.get('PCK@0.2', float('nan')):.4f} | "
                     f"{m.get('AUC', float('nan')):.4f} | {m.get('EPE', float('nan')):.2f} | "
                     f"{r.get('nsrm_mpck', float('nan')):.4f} | "
                     f"{r['params']:,} | {r['train_samples_per_s']:.1f} | "
                     f"{r['infer_ms']:.2f} |")
    atomic_write_text('\n'.join(lines) + '\n', path)
    return path


def plot_curves(rows: list[dict], path: str) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.plot(THRESHOLDS, r['pck_curve'], label=r['name'],
                linestyle='--' if r.get('cfg_options') else '-')
    ax.set(xlabel='threshold (fraction of the box side)', ylabel='PCK',
           title='PCK vs threshold (test split)', ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    THREADS[0] = args.threads
    if not args.collect:
        ensure_data(args.data_root)
    rows = []
    os.makedirs(osp.join(ROOT_DIR, args.work_dir), exist_ok=True)
    out = args.out or osp.join(ROOT_DIR, args.work_dir, 'compare.md')
    partial = osp.join(ROOT_DIR, args.work_dir, 'compare_partial.md')
    for config in args.configs:
        print(f'training and evaluating {config} ...', flush=True)
        for row in (collected_rows(config, args) if args.collect
                    else evaluate_one(config, args)):
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != 'pck_curve'}), flush=True)
        # the rows so far, in the work dir: a run stopped part-way keeps what it measured
        write_table(rows, args, partial)
    table = write_table(rows, args, out)
    plot = plot_curves(rows, osp.splitext(table)[0] + '_pck.png')
    atomic_write_text(json.dumps(rows, indent=1),
                      Path(ROOT_DIR, args.work_dir, 'compare.json'))
    print(Path(table).read_text())
    print(f'table: {table}\nplot: {plot}')
    return rows


if __name__ == '__main__':
    main()
