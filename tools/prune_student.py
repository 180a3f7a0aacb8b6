#!/usr/bin/env python
"""KD tickets: prune a distilled student round by round, each round retrained on the teacher.

    python tools/prune_student.py CONFIG CHECKPOINT [--rounds 3] [--rate 0.2] [--epochs E]
                                  [--exclude PATTERN ...] [--rewind CKPT]
                                  [--work-dir work_dirs/prune] [--out table.md]
                                  [--cfg-options k=v ...]

CONFIG is a teacher -> student distiller config (configs/kd/...), CHECKPOINT one of its
training checkpoints (the dense distilled student: round 0). Round ``r`` (1 .. R) prunes the
smallest-magnitude conv / linear weights of the whole student (one global threshold,
``torch.nn.utils.prune``) to a total sparsity ``1 - (1 - rate)^r``, then retrains it with the
config's distillation losses for ``--epochs`` epochs, starting from round ``r - 1``'s weights
(``--rewind CKPT``: from that checkpoint's surviving weights instead, lottery-ticket rewinding).
Every round's student is exported (tools/export_student.py: the zeros are in the file; the
pruning is permanent) and evaluated (tools/eval.py). The sparsity reported is the fraction of
zeros among the prunable weights of the exported file itself.

Global magnitude pruning ranks all layers together, so a layer initialised small (the heatmap
output conv) can be removed entirely; the table names such layers, the training log warns, and
``--exclude`` keeps a layer dense (lottery-ticket practice for the output layer).

Writes ``--work-dir/round_<r>/`` (training run, ``student.pth`` + ``student.py``, metrics), a
markdown table (round, target and measured sparsity, non-zero weights, layers pruned entirely,
PCK@0.2, AUC, EPE), a
sparsity-vs-PCK plot beside it, and ``prune.json``. Rounds already done are not redone.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

from _common import ROOT_DIR, user_errors_exit

from poseforge.distillers.export import export_student_files
from poseforge.distillers.kd.pruning import collapsed_layers, sparsity_of
from poseforge.engine.checkpoint import atomic_write_bytes, safe_load
from poseforge.utils.config import load_config
from poseforge.utils.fileio import atomic_write_text
from poseforge.visualization.plots import save_figure


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the distiller config (teacher -> student)')
    parser.add_argument('checkpoint', help='the dense distilled checkpoint (round 0)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--rate', type=float, default=0.2,
                        help='fraction of the remaining weights pruned per round')
    parser.add_argument('--epochs', type=int, default=None,
                        help="retraining epochs per round (default: the config's)")
    parser.add_argument('--exclude', nargs='*', default=[],
                        help='student weight names not to prune (glob or regex)')
    parser.add_argument('--rewind', default=None,
                        help='reset the surviving weights to this checkpoint every round')
    parser.add_argument('--work-dir', default='work_dirs/prune')
    parser.add_argument('--out', default=None, help='markdown table (default: in --work-dir)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='options for every round (data root, seed, ...)')
    args = parser.parse_args(argv)
    if not 0.0 < args.rate < 1.0:
        parser.error(f'--rate must be in (0, 1), got {args.rate}')
    if args.rounds < 1:
        parser.error('--rounds must be >= 1')
    return args


def target_sparsity(rate: float, round_index: int) -> float:
    """Total sparsity after ``round_index`` rounds pruning ``rate`` of what remains."""
    return 1.0 - (1.0 - rate) ** round_index


def run(args: list[str]) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT_DIR, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def _options_dict(options: list[str]) -> dict:
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, namespace, options)
    return namespace.opts or {}


def round_config(args: argparse.Namespace, sparsity: float, load_from: str, path: Path) -> Path:
    """The distiller config of one round (the pruning hook added, the previous round's weights
    loaded), written to ``path`` so that tools/train.py runs it as any config."""
    cfg = load_config(args.config, _options_dict(args.cfg_options))
    hook = dict(type='KDTicketPruningHook', sparsity=sparsity, student='student',
                exclude=list(args.exclude), rewind_from=args.rewind)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [hook]
    cfg.load_from = osp.abspath(load_from)
    cfg.resume = False
    if args.epochs:
        cfg.train_cfg.max_epochs = args.epochs
        cfg.train_cfg.val_interval = args.epochs
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f'# KD-ticket round: {args.config} pruned to {sparsity:.4f} by '
              'tools/prune_student.py\n')
    atomic_write_bytes((header + cfg.pretty_text).encode(), path)
    return path


def start_from(train_dir: Path, previous: str) -> list[str]:
    """tools/train.py arguments of a round: resume its own interrupted run, else start from the
    previous round's weights (``--resume`` with nothing to resume would start from scratch,
    dropping the config's ``load_from``)."""
    if (train_dir / 'last_checkpoint').is_file():
        return ['--resume']
    return ['--load-from', previous]


def last_checkpoint(work: Path) -> str:
    return (work / 'last_checkpoint').read_text().strip()


def export_and_evaluate(args: argparse.Namespace, checkpoint: str, work: Path) -> dict:
    """Export the round's student, measure its sparsity in the file, evaluate it."""
    cfg = load_config(args.config, _options_dict(args.cfg_options))
    student, student_cfg = export_student_files(cfg, checkpoint, work / 'student.pth')
    state = safe_load(student)['state_dict']
    stats = sparsity_of(state, exclude=args.exclude)
    metrics_file = work / 'metrics.json'
    plain = [o for o in args.cfg_options if not o.startswith('model.')]
    run(['tools/eval.py', str(student_cfg), str(student), '--work-dir', str(work / 'eval'),
         '--out', str(metrics_file), *(['--cfg-options', *plain] if plain else [])])
    metrics = json.loads(metrics_file.read_text())
    return dict(student=str(student), sparsity=stats['sparsity'], zeros=stats['zeros'],
                prunable=stats['total'], all_params_sparsity=stats['all_params_sparsity'],
                collapsed=collapsed_layers(state, exclude=args.exclude), metrics=metrics)


def prune_rounds(args: argparse.Namespace) -> list[dict]:
    root = Path(ROOT_DIR, args.work_dir)
    rows = []
    previous = osp.abspath(args.checkpoint)
    for r in range(args.rounds + 1):
        work = root / f'round_{r}'
        done = work / 'round.json'
        if done.is_file():
            row = json.loads(done.read_text())
            if 'collapsed' not in row:  # a round done by an earlier version of this tool
                state = safe_load(row['student'])['state_dict']
                row['collapsed'] = collapsed_layers(state, exclude=args.exclude)
        else:
            target = target_sparsity(args.rate, r)
            if r == 0:
                checkpoint = previous
            else:
                print(f'round {r}: pruning to {target:.1%} and retraining ...', flush=True)
                config = round_config(args, target, previous, work / 'config.py')
                run(['tools/train.py', str(config), '--work-dir', str(work / 'train'),
                     *start_from(work / 'train', previous)])
                checkpoint = last_checkpoint(work / 'train')
            row = dict(round=r, target_sparsity=target, checkpoint=checkpoint,
                       **export_and_evaluate(args, checkpoint, work))
            atomic_write_bytes(json.dumps(row, indent=1).encode(), done)
        previous = row['checkpoint']
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != 'metrics'} |
                         {k: row['metrics'].get(k) for k in ('PCK@0.2', 'AUC', 'EPE')}),
              flush=True)
    return rows


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    epochs = f'{args.epochs} epochs' if args.epochs else "the config's epochs"
    lines = [f'KD tickets: `{args.config}` from `{args.checkpoint}`; {args.rounds} rounds, '
             f'{args.rate:.0%} of the remaining conv / linear weights pruned per round (global '
             f'magnitude), each round retrained with the config\'s distillation for {epochs}'
             + (f', rewound to `{args.rewind}`' if args.rewind else '')
             + (f"; not pruned: `{' '.join(args.exclude)}`" if args.exclude else '')
             + '. Sparsity: zeros '
             'among the prunable weights of the exported student file.', '',
             '| round | target sparsity | sparsity (file) | non-zero weights | layers pruned '
             'entirely | PCK@0.2 | AUC | EPE (px) |', '|---:|---:|---:|---:|---|---:|---:|---:|']
    for r in rows:
        m = r['metrics']
        lines.append(f"| {r['round']} | {r['target_sparsity']:.3f} | {r['sparsity']:.3f} | "
                     f"{r['prunable'] - r['zeros']:,} / {r['prunable']:,} | "
                     f"{collapsed_cell(r.get('collapsed', []))} | "
                     f"{m.get('PCK@0.2', float('nan')):.4f} | {m.get('AUC', float('nan')):.4f} | "
                     f"{m.get('EPE', float('nan')):.2f} |")
    return '\n'.join(lines) + '\n'


def collapsed_cell(names: list[str]) -> str:
    """``0``, or the count and the first names of the layers pruned entirely."""
    if not names:
        return '0'
    more = ', ...' if len(names) > 3 else ''
    return f"{len(names)} ({', '.join(names[:3])}{more})"


def plot(rows: list[dict], path: str) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r['sparsity'] for r in rows], [r['metrics'].get('PCK@0.2') for r in rows], 'o-')
    ax.set(xlabel='sparsity of the student (exported file)', ylabel='PCK@0.2',
           title='KD tickets: sparsity vs PCK')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    with user_errors_exit('prune_student.py'):
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f"Checkpoint not found: '{args.checkpoint}'")
        rows = prune_rounds(args)
    out = args.out or osp.join(ROOT_DIR, args.work_dir, 'prune.md')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_write_text(markdown(rows, args), out)
    figure = plot(rows, osp.splitext(out)[0] + '_pck.png')
    atomic_write_text(json.dumps(
        dict(rows=rows, args=vars(args)), indent=1), Path(ROOT_DIR, args.work_dir, 'prune.json'))
    print(Path(out).read_text())
    print(f'table: {out}\nplot: {figure}')
    return rows


if __name__ == '__main__':
    main()
