#!/usr/bin/env python
"""Train configs with one budget and seed, evaluate each in one or more modes, tabulate.

    python tools/distill_table.py --row CONFIG [MODE ...] [--row CONFIG [MODE ...]] ...
                                  [--data-root DIR] [--epochs N] [--seed S]
                                  [--work-dir work_dirs/distill_table] [--out table.md]
                                  [--title TEXT] [--cfg-options k=v ...]

Each ``--row`` is a config trained once (tools/train.py, same seed; with ``--epochs`` the same
number of epochs for all) and evaluated on its test split (tools/eval.py) in each MODE:

* a plain model has one mode (give none);
* a distiller's ``student`` (default) and ``branch<i>`` modes are exported with
  tools/export_student.py and the exported checkpoint is what is evaluated and timed: the
  model that ships;
* any other mode (OKDHP's ``ensemble``, a teacher's name) evaluates the distiller itself with
  ``model.predict_with=MODE``, and times its whole forward.

The table (markdown) has PCK@0.2, AUC, EPE, parameters and GFLOP of what runs at inference in
that mode, train samples/s of the config (tools/benchmark.py train: batch 32),
inference ms/image (tools/benchmark.py infer: batch 1), and states the budget.
A PCK-vs-threshold plot and every number (JSON) are written beside it. Rows whose epochs
differ (a teacher trained on its own schedule) get an epochs column. ``--baseline CONFIG``
(one of the rows, e.g. the student alone) adds each row's PCK@0.2 and EPE difference to it, so
a method that does not help reads as such. Runs resume: a row whose training finished is not
retrained, and a mode evaluated from the same checkpoint is not re-evaluated (its numbers are
kept in ``<work-dir>/<config>/row_<mode>.json``; ``--re-evaluate`` redoes them).

Example (the README's OKDHP table)::

    python tools/distill_table.py \\
        --row configs/hourglass/hourglass-light2_synth-hands-64.py \\
        --row configs/okdhp/okdhp-light_hg2_synth-hands-64.py student ensemble \\
        --data-root data/synth_hands --out docs/distill_okdhp.md
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT_DIR

from compare import THRESHOLDS, ensure_data, pck_vs_threshold, plot_curves
from poseforge.utils.fileio import atomic_write_text

#: modes that ship a student, evaluated and timed as the exported plain checkpoint
STUDENT_MODES = ('student',)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--row', nargs='+', action='append', required=True,
                        metavar='CONFIG [MODE]', help='a config and its evaluation modes')
    parser.add_argument('--data-root', default='data/synth_hands',
                        help="dataset root for every row (empty: keep the configs')")
    parser.add_argument('--epochs', type=int, default=None,
                        help="same number of epochs for every row (default: each config's)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/distill_table')
    parser.add_argument('--out', default=None, help='markdown table (default: in --work-dir)')
    parser.add_argument('--title', default='', help='a line above the table')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads of every training, evaluation and timing (2; on a '
                             'machine shared with other jobs 1 can be several times faster)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='options given to every row')
    parser.add_argument('--baseline', default=None, metavar='CONFIG',
                        help='a row config (its first mode) every row is compared with')
    parser.add_argument('--re-evaluate', action='store_true',
                        help='evaluate and time rows again even when their checkpoint has not '
                             'changed since the last run')
    args = parser.parse_args(argv)
    if args.baseline and args.baseline not in [row[0] for row in args.row]:
        parser.error(f'--baseline {args.baseline} is not one of the --row configs')
    return args


THREADS = [2]


def run(args: list[str]) -> str:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS[0]), MKL_NUM_THREADS=str(THREADS[0]))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT_DIR, capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def with_options(options: list[str]) -> list[str]:
    """``--cfg-options ...`` (nothing when there is none: argparse wants at least one)."""
    return ['--cfg-options', *options] if options else []


def common_options(args: argparse.Namespace) -> list[str]:
    opts = [f'randomness.seed={args.seed}', 'load_from=None', *args.cfg_options]
    if args.data_root:
        opts += [f'{s}_dataloader.dataset.data_root={args.data_root}'
                 for s in ('train', 'val', 'test')]
    if args.epochs:
        opts += [f'train_cfg.max_epochs={args.epochs}', f'train_cfg.val_interval={args.epochs}']
    return opts


def describe(config: str, options: list[str]) -> dict:
    """Whether ``config`` builds a distiller, its parameter count, its schedule."""
    import torch
    from mmengine.registry import init_default_scope

    from poseforge.distillers import BaseDistiller, teacher_checkpoints_optional
    from poseforge.registry import MODELS
    from poseforge.utils.config import load_config
    cfg = load_config(osp.join(ROOT_DIR, config), _options_dict(options))
    init_default_scope('poseforge')
    with torch.device('meta'), teacher_checkpoints_optional():
        model = MODELS.build(cfg.model)
    return dict(distiller=isinstance(model, BaseDistiller),
                params=sum(p.numel() for p in model.parameters()),
                epochs=cfg.train_cfg.get('max_epochs'),
                batch_size=cfg.train_dataloader.get('batch_size'))


def _options_dict(options: list[str]) -> dict:
    """``['a.b=1', ...]`` -> the dict ``--cfg-options`` would give (mmengine's parser)."""
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, namespace, options)
    return namespace.opts


def count_parameters(config: str, options: list[str]) -> int:
    return describe(config, options)['params']


def benchmark(mode: str, config: str, options: list[str]) -> dict:
    data_opts = [o for o in options if o.startswith(('train_dataloader', 'val_', 'test_',
                                                     'model.'))]
    spec = (['--batch-size', '32', '--iters', '5'] if mode == 'train'
            else ['--batch-size', '1', '--iters', '30'])
    out = run(['tools/benchmark.py', mode, config, *spec, '--threads', str(THREADS[0]),
               *with_options(data_opts)])
    return json.loads(out.strip().splitlines()[-1])


def evaluate(config: str, checkpoint: str, work: str, name: str, options: list[str]) -> dict:
    metrics_file = osp.join(work, f'metrics_{name}.json')
    dump = osp.join(work, f'predictions_{name}.json')
    run(['tools/eval.py', config, checkpoint, '--work-dir', osp.join(work, f'eval_{name}'),
         '--out', metrics_file, '--dump', dump, *with_options(options)])
    return dict(metrics=json.loads(Path(ROOT_DIR, metrics_file).read_text()),
                pck_curve=pck_vs_threshold(osp.join(ROOT_DIR, dump)).tolist())


def train(config: str, work: str, options: list[str]) -> tuple[str, float]:
    start = time.perf_counter()
    run(['tools/train.py', config, '--work-dir', work, '--resume', *with_options(options)])
    checkpoint = Path(ROOT_DIR, work, 'last_checkpoint').read_text().strip()
    return checkpoint, time.perf_counter() - start


def evaluate_row(config: str, modes: list[str], args: argparse.Namespace) -> list[dict]:
    name = Path(config).stem
    work = osp.join(args.work_dir, name)
    options = common_options(args)
    info = describe(config, options)
    if modes and not info['distiller']:
        raise SystemExit(f'distill_table.py: error: {config} is not a distiller; it has no '
                         f'modes ({" ".join(modes)})')
    modes = modes or (['student'] if info['distiller'] else [''])
    print(f'training {config} ...', flush=True)
    checkpoint, seconds = train(config, work, options)
    cached = {mode: cached_row(work, mode, checkpoint, args) for mode in modes}
    if all(cached.values()):
        return [cached[mode] for mode in modes]
    train_speed = benchmark('train', config, options)
    rows = []
    for mode in modes:
        if cached[mode]:
            rows.append(cached[mode])
            continue
        shipped = info['distiller'] and (mode in STUDENT_MODES or mode.startswith('branch'))
        if shipped:
            branch = ['--branch', mode[len('branch'):]] if mode.startswith('branch') else []
            student = osp.join(work, f'{mode}.pth')
            run(['tools/export_student.py', config, checkpoint, '--out', student, *branch,
                 *with_options([o for o in options if o.startswith('model.')])])
            eval_config, eval_ckpt = student[:-len('.pth')] + '.py', student
            eval_opts = [o for o in options if not o.startswith('model.')]
        else:
            eval_config, eval_ckpt = config, checkpoint
            eval_opts = options + ([f'model.predict_with={mode}'] if mode else [])
        result = evaluate(eval_config, eval_ckpt, work, mode or 'model', eval_opts)
        infer = benchmark('infer', eval_config, eval_opts)
        rows.append(dict(name=f'{name} ({mode})' if mode else name, config=config, mode=mode,
                         checkpoint=eval_ckpt, **result,
                         params=count_parameters(eval_config, eval_opts),
                         gflop=infer['gflop_per_sample'], infer_ms=infer['ms_per_image'],
                         train_samples_per_s=train_speed['samples_per_s'],
                         train_minutes=round(seconds / 60, 1), epochs=info['epochs'],
                         batch_size=info['batch_size'], trained_checkpoint=checkpoint))
        atomic_write_text(json.dumps(rows[-1]), Path(ROOT_DIR, work, f'row_{mode or "model"}.json'))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != 'pck_curve'}), flush=True)
    return rows


def cached_row(work: str, mode: str, checkpoint: str, args: argparse.Namespace) -> dict | None:
    """The row evaluated from ``checkpoint`` by an earlier run (``None``: evaluate it)."""
    path = Path(ROOT_DIR, work, f'row_{mode or "model"}.json')
    if args.re_evaluate or not path.is_file():
        return None
    row = json.loads(path.read_text())
    return row if row.get('trained_checkpoint') == checkpoint else None


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    epochs = sorted({r['epochs'] for r in rows})
    batches = sorted({r['batch_size'] for r in rows})
    budget = (f'{args.epochs} epochs' if args.epochs else
              f'{"/".join(map(str, epochs))} epochs (each config\'s schedule)')
    data = args.data_root or "the configs'"
    options = (', options `' + ' '.join(args.cfg_options) + '`') if args.cfg_options else ''
    lines = ([args.title, ''] if args.title else []) + [
        f'Budget: {budget}, batch {"/".join(map(str, batches))}, seed {args.seed}, data '
        f'`{data}`{options}; every row trained with it once. Parameters '
        'and GFLOP: what runs at inference in that mode (a student: the exported checkpoint). '
        f'Train samples/s: the config\'s training step, batch 32, {args.threads} thread(s); '
        f'inference: batch 1, {args.threads} thread(s).'
        + (f' Δ: the row minus `{Path(args.baseline).stem}`.' if getattr(args, 'baseline', None)
           else ''), '',
        '| model (mode) | PCK@0.2 | AUC | EPE (px) | parameters | GFLOP | train samples/s | '
        'inference ms/image | train time (min) |' + extra_header(rows, args),
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|' + '---:|' * extra_header(rows, args)
        .count('|')]
    base = baseline_metrics(rows, args)
    for r in rows:
        m = r['metrics']
        line = (f"| {r['name']} | {m.get('PCK@0.2', float('nan')):.4f} | "
                f"{m.get('AUC', float('nan')):.4f} | {m.get('EPE', float('nan')):.2f} | "
                f"{r['params']:,} | {r['gflop']:.3f} | {r['train_samples_per_s']:.1f} | "
                f"{r['infer_ms']:.2f} | {r['train_minutes']} |")
        if len(epochs) > 1:
            line += f" {r['epochs']} |"
        if base is not None:
            line += (f" {m.get('PCK@0.2', float('nan')) - base.get('PCK@0.2', float('nan')):+.4f}"
                     f" | {m.get('EPE', float('nan')) - base.get('EPE', float('nan')):+.2f} |")
        lines.append(line)
    return '\n'.join(lines) + '\n'


def extra_header(rows: list[dict], args: argparse.Namespace) -> str:
    """Columns beyond the fixed ones: epochs when rows differ, differences to a baseline."""
    text = ' epochs |' if len({r['epochs'] for r in rows}) > 1 else ''
    if getattr(args, 'baseline', None):
        text += ' ΔPCK@0.2 | ΔEPE (px) |'
    return text


def baseline_metrics(rows: list[dict], args: argparse.Namespace) -> dict | None:
    """The metrics of the baseline config's first row (``None`` without ``--baseline``)."""
    if not getattr(args, 'baseline', None):
        return None
    return next(r['metrics'] for r in rows if r['config'] == args.baseline)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    THREADS[0] = args.threads
    ensure_data(args.data_root)
    rows = []
    for config, *modes in args.row:
        rows.extend(evaluate_row(config, modes, args))
    os.makedirs(osp.join(ROOT_DIR, args.work_dir), exist_ok=True)
    out = args.out or osp.join(ROOT_DIR, args.work_dir, 'table.md')
    atomic_write_text(markdown(rows, args), out)
    plot = plot_curves(rows, osp.splitext(out)[0] + '_pck.png')
    atomic_write_text(json.dumps(
        dict(rows=rows, thresholds=THRESHOLDS.tolist(), args=vars(args)), indent=1),
        Path(ROOT_DIR, args.work_dir, 'table.json'))
    print(Path(out).read_text())
    print(f'table: {out}\nplot: {plot}')
    return rows


if __name__ == '__main__':
    main()
