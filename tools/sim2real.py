#!/usr/bin/env python
"""Sim-to-real: train one light model per generator setting, measure it on real hand images.

    python tools/sim2real.py [--settings today default ...] [--num 2000] [--views 2]
        [--size 256] [--epochs 20] [--seed 0] [--workers W]
        [--config configs/sim2real/cpm-light_sim2real-128.py] [--real CONFIG ...]
        [--fixtures DIR] [--data-dir data/sim2real] [--work-dir work_dirs/sim2real]
        [--out FILE.md] [--cfg-options k=v ...] [--list] [--gap]
    python tools/sim2real.py --checkpoint CONFIG PTH [--checkpoint CONFIG PTH ...] [--out FILE.md]

For every setting: generate hands with it (``--num`` units x ``--views`` views at ``--size``
px; resumable), train the config with the same budget and seed (``tools/train.py``; resumable),
and evaluate the last checkpoint on the setting's own generated test split and on real hands:
the labelled real images of the shared fixtures (OneHand10K, CMU Panoptic, MHP; RHD, rendered,
in its own column) and the test split of every dataset config passed with ``--real``. Writes
``<out>`` (markdown table: PCK@0.2, AUC, EPE per real set and the pooled real images),
``<out stem>.json`` (every number), ``<out stem>_gallery.png`` (one row per setting: its
predictions, in colour, and the ground truth, in white, on every real hand) and
``<out stem>_samples.png`` (the first generated test images of each setting, one row each).

``--checkpoint CONFIG PTH`` (repeatable) generates and trains nothing: it scores models already
trained (one row each, named after the checkpoint's folder and file) on the same real sets and
on their config's own test split when its files are there (``--cfg-options`` apply to the
config, e.g. ``test_dataloader.dataset.data_root=...``), and writes the same table, json and
gallery.

``--gap`` trains nothing: it prints photometric statistics of the model's input crops
(brightness, contrast, saturation, sharpness, noise, hue spread) for each real set and each
setting's generated hands, the gap the ``sim2real`` photometric recipe is set to cover.

Settings (``--list`` prints them): ``today`` is the generator as it was before the scene
options (legacy look, no grasp poses); ``default`` is the generator's default; ``no-<option>``
is ``default`` with one option turned off (:data:`poseforge.generation.appearance.ABLATIONS`,
plus ``no-grasps``). The real fixture pool is 12 hands: a difference of a few points is noise.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from _common import ROOT_DIR, user_errors_exit

import _real_hands as real_hands   # noqa: E402  (tools/ is on sys.path when run as a script)
from poseforge.utils.fileio import atomic_write_text  # noqa: E402

DEFAULT_CONFIG = 'configs/sim2real/cpm-light_sim2real-128.py'
DEFAULT_SETTINGS = ('today', 'default')
#: Camera placements tried against the default (``CameraConfig`` changes: labels change too).
CAMERA_VARIANTS = {'roll-90': dict(roll_deg=90.0), 'roll-180': dict(roll_deg=180.0)}
#: Camera rigs tried against the default ring (:mod:`poseforge.generation.rigs`): ``sphere``
#: views the hand from every direction, so foreshortened hands (fingers towards or away from
#: the camera) and views from below occur as often as side views; ``ring+sphere`` draws one
#: of the two per unit.
RIG_VARIANTS = ('sphere', 'ring+sphere')


# --------------------------------------------------------------------------- settings
def setting_names() -> list[str]:
    from poseforge.generation.appearance import ABLATIONS
    return ['today', 'default', *ABLATIONS, 'no-grasps', *CAMERA_VARIANTS, *RIG_VARIANTS]


def generation_config(setting: str):
    """The :class:`GenerationConfig` of a named setting (see the module docstring)."""
    from poseforge.generation.appearance import ABLATIONS, LEGACY_SCENE
    from poseforge.generation.synth_hands import GenerationConfig
    base = GenerationConfig()
    if setting == 'today':
        return replace(base, scene=LEGACY_SCENE, prior=replace(base.prior, grasp_prob=0.0))
    if setting == 'default':
        return base
    if setting == 'no-grasps':
        return replace(base, prior=replace(base.prior, grasp_prob=0.0))
    if setting in ABLATIONS:
        return replace(base, scene=replace(base.scene, **ABLATIONS[setting]))
    if setting in CAMERA_VARIANTS:
        return replace(base, camera=replace(base.camera, **CAMERA_VARIANTS[setting]))
    if setting in RIG_VARIANTS:
        return replace(base, rig=setting)
    raise ValueError(f"unknown setting '{setting}'; known: {', '.join(setting_names())}")


def generate(setting: str, out: str, args: argparse.Namespace) -> str:
    """Generate (or finish generating) the setting's hands in ``out``."""
    from poseforge.generation.synth_hands import generate_dataset
    if not osp.isfile(osp.join(out, 'annotations', 'test.json')):
        generate_dataset(out, num=args.num, views=args.views, seed=args.seed, size=args.size,
                         workers=args.workers, cfg=generation_config(setting),
                         progress=not args.quiet)
    return out


# --------------------------------------------------------------------------- training
def run_tool(argv: list[str]) -> str:
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def data_options(data_root: str) -> list[str]:
    return [f'{split}_dataloader.dataset.data_root={data_root}'
            for split in ('train', 'val', 'test')]


def train(config: str, data_root: str, work_dir: str, args: argparse.Namespace) -> str:
    """Train ``config`` on ``data_root`` with the shared budget; the last checkpoint's path."""
    options = [f'randomness.seed={args.seed}', *data_options(data_root), *args.cfg_options]
    if args.epochs:
        options += [f'train_cfg.max_epochs={args.epochs}',
                    f'train_cfg.val_interval={args.epochs}']
    last = Path(ROOT_DIR, work_dir, 'last_checkpoint')
    done = Path(ROOT_DIR, work_dir, 'done')
    if not done.is_file():
        run_tool(['tools/train.py', config, '--work-dir', work_dir, '--resume',
                  '--cfg-options', *options])
        done.write_text(last.read_text())
    return last.read_text().strip()


# --------------------------------------------------------------------------- evaluation
def synthetic_test_set(data_root: str) -> real_hands.RealSet:
    return real_hands.RealSet('generated (test)', dict(
        type='SynthHandDataset', data_root=data_root, ann_file='annotations/test.json',
        data_prefix=dict(img='images/test/')), pooled=False, note="the setting's test split")


def evaluate(config: str, checkpoint: str, sets: list[real_hands.RealSet],
             args: argparse.Namespace) -> list[real_hands.SetResult]:
    from poseforge.apis import init_model
    model = init_model(osp.join(ROOT_DIR, config), osp.join(ROOT_DIR, checkpoint),
                       cfg_options=_cfg_dict(args.cfg_options))
    return [real_hands.predict_set(model, s, max_hands=args.max_eval) for s in sets]


def score_checkpoint(config: str, checkpoint: str, args: argparse.Namespace
                     ) -> tuple[dict, list[real_hands.SetResult]]:
    """Score a trained model as it is (no generating, no training): the real sets and, when its
    annotation file is there, the config's own test split (as ``generated (test)``)."""
    for path in (config, checkpoint):
        if not osp.isfile(osp.join(ROOT_DIR, path)):
            raise FileNotFoundError(f"--checkpoint: '{path}' not found")
    own = real_hands.config_set(osp.join(ROOT_DIR, config), cfg_options=_cfg_dict(
        args.cfg_options), name='generated (test)')
    ann = real_hands.annotation_file(own.dataset)
    sets = args.real_sets + ([own] if ann and osp.isfile(ann) else [])   # as the dataset reads it
    found = evaluate(config, checkpoint, sets, args)
    name = f'{Path(checkpoint).parent.name}/{Path(checkpoint).stem}'
    return dict(setting=name, checkpoint=checkpoint, config=config,
                pool=real_hands.pooled_metrics(found),
                sets={r.name: r.metrics() for r in found}), found


def _cfg_dict(options: list[str]) -> dict | None:
    if not options:
        return None
    from mmengine.config import DictAction
    namespace = argparse.Namespace()
    DictAction(option_strings=['--x'], dest='x')(None, namespace, options)
    return namespace.x


# --------------------------------------------------------------------------- report
def _fmt(value: float, digits: int = 3) -> str:
    return 'n/a' if value != value else f'{value:.{digits}f}'


def write_table(rows: list[dict], args: argparse.Namespace, path: str) -> str:
    """Markdown: one summary table (pooled real and per-set PCK@0.2) and per-set details."""
    nan = float('nan')
    sets = [s.name for s in args.real_sets]
    epochs = args.epochs or "the config's"
    budget = (f'Budget for every row: {args.num} units x {args.views} views at {args.size} px, '
              f'{epochs} epochs, seed {args.seed}, `{args.config}`')
    if args.checkpoint:
        budget = ('Checkpoints scored as trained (no generating or training): '
                  + '; '.join(f'`{r["checkpoint"]}` (`{r["config"]}`)' for r in rows))
    if args.cfg_options:   # part of the budget (a schedule, a batch size): stated with it
        budget += ' with `--cfg-options ' + ' '.join(args.cfg_options) + '`'
    pool = rows[0]['pool']
    lines = [f'{budget}. Real pool: {pool["hands"]} labelled hands '
             f'({pool["keypoints"]} keypoints) from the shared fixtures: a handful of images, '
             'so differences of a few points are noise.', '',
             '| setting | real pool PCK@0.2 | real pool AUC | real pool EPE (box) | '
             + ' | '.join(f'{s} PCK@0.2' for s in sets) + ' | generated test PCK@0.2 |',
             '|---|---:|---:|---:|' + '---:|' * len(sets) + '---:|']
    for r in rows:
        p = r['pool']
        lines.append(f"| {r['setting']} | {_fmt(p['PCK@0.2'])} | {_fmt(p['AUC'])} | "
                     f"{_fmt(p['EPE'])} | "
                     + ' | '.join(_fmt(r['sets'][s]['PCK@0.2']) for s in sets)
                     + f" | {_fmt(r['sets'].get('generated (test)', {}).get('PCK@0.2', nan))} |")
    lines += ['', 'Per set (PCK@0.2 of the box, AUC over 0-30 px, EPE in px; each over the '
              "set's labelled keypoints, as the pool):", '',
              '| setting | ' + ' | '.join(f'{s} PCK / AUC / EPE' for s in sets) + ' |',
              '|---|' + '---|' * len(sets)]
    for r in rows:
        cells = [f"{_fmt(m['PCK@0.2'])} / {_fmt(m['AUC'])} / {_fmt(m['EPE'], 1)}"
                 for m in (r['sets'][s] for s in sets)]
        lines.append(f"| {r['setting']} | " + ' | '.join(cells) + ' |')
    lines += ['', 'Real pool: ' + '; '.join(f'{s.name}: {s.note}' for s in args.real_sets
                                            if s.pooled) + '. Not pooled: '
              + '; '.join(f'{s.name}: {s.note}' for s in args.real_sets if not s.pooled)
              + "; STB: its fixture frame has no label.", '']
    atomic_write_text('\n'.join(lines), path)
    return path


def write_gap(settings: list[str], roots: dict[str, str], args: argparse.Namespace,
              path: str) -> str:
    """Markdown table of :func:`_real_hands.crop_statistics`: real sets, then settings."""
    names = real_hands.STATISTICS
    lines = ['Input crops (128 px, box x1.25), mean +- spread over the hands:', '',
             '| images | ' + ' | '.join(names) + ' |', '|---|' + '---:|' * len(names)]
    sources = [(s.name + (' (real)' if s.pooled else ''), s.dataset) for s in args.real_sets]
    sources += [(f'generated: {s}', synthetic_test_set(roots[s]).dataset) for s in settings]
    for name, dataset in sources:
        stats = real_hands.crop_statistics(dataset)
        lines.append(f'| {name} | ' + ' | '.join(f'{stats[k][0]:.3f} +- {stats[k][1]:.3f}'
                                                 for k in names) + ' |')
    atomic_write_text('\n'.join(lines) + '\n', path)
    return path


def write_samples(roots: dict[str, str], path: str, count: int = 8, tile: int = 128) -> str:
    """The first ``count`` generated test images of each setting, one row per setting."""
    import cv2
    import numpy as np
    strips = []
    for setting, root in roots.items():
        test = json.loads(Path(root, 'annotations', 'test.json').read_text())
        tiles = []
        for image in test['images'][:count]:
            rgb = cv2.imread(osp.join(root, 'images', 'test', image['file_name']))
            if rgb is None:
                raise OSError(f"cannot read '{image['file_name']}' in {root}")
            tiles.append(cv2.resize(rgb, (tile, tile), interpolation=cv2.INTER_AREA))
        label = np.zeros((tile, 150, 3), np.uint8)
        cv2.putText(label, setting[:16], (4, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        strips.append(np.concatenate([label, *tiles], axis=1))
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 2), (0, width - s.shape[1]), (0, 0))) for s in strips]
    if not cv2.imwrite(path, np.concatenate(strips, 0)):
        raise OSError(f"cannot write '{path}'")
    return path


def write_gallery(rows: list[dict], results: dict, path: str, metainfo: dict) -> str:
    """One row per setting, one tile per real hand (prediction in colour, truth in white)."""
    import cv2
    import numpy as np
    tile = 128
    strips = []
    for r in rows:
        tiles = [t for res in results[r['setting']] if res.name != 'generated (test)'
                 for t in real_hands.gallery_row(res, metainfo, tile)]
        label = np.zeros((tile, 150, 3), np.uint8)
        cv2.putText(label, r['setting'][:16], (4, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        strips.append(np.concatenate([label, *tiles], axis=1))
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 2), (0, width - s.shape[1]), (0, 0))) for s in strips]
    ok, data = cv2.imencode('.png', np.concatenate(strips, 0)[..., ::-1])
    if not ok:
        raise OSError(f"cannot encode '{path}'")
    Path(path).write_bytes(data.tobytes())
    return path


def write_report(rows: list[dict], args: argparse.Namespace, out: str) -> str:
    """The table and json of the rows so far; their common path stem."""
    write_table(rows, args, out)
    stem = osp.splitext(out)[0]
    budget = (dict(checkpoints=[[r['config'], r['checkpoint']] for r in rows])
              if args.checkpoint else
              dict(num=args.num, views=args.views, size=args.size, epochs=args.epochs,
                   seed=args.seed, config=args.config))
    budget['cfg_options'] = args.cfg_options
    atomic_write_text(json.dumps(dict(budget=budget, rows=rows), indent=1), stem + '.json')
    return stem


def _print_row(row: dict, args: argparse.Namespace) -> None:
    if not args.quiet:
        own = row['sets'].get('generated (test)', {}).get('PCK@0.2', float('nan'))
        print(f"{row['setting']}: real pool PCK@0.2 {row['pool']['PCK@0.2']:.3f}, generated "
              f"test PCK@0.2 {_fmt(own)}", flush=True)


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--settings', nargs='+', default=list(DEFAULT_SETTINGS))
    parser.add_argument('--num', type=int, default=2000, help='units per setting')
    parser.add_argument('--views', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs (default: the config's)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--real', nargs='*', default=[], metavar='CONFIG',
                        help='dataset configs whose test split is scored too')
    parser.add_argument('--fixtures', default=None, help='the shared fixtures folder')
    parser.add_argument('--data-dir', default='data/sim2real')
    parser.add_argument('--work-dir', default='work_dirs/sim2real')
    parser.add_argument('--out', default=None, help='markdown table (default: in --work-dir)')
    parser.add_argument('--max-eval', type=int, default=None,
                        help='score at most this many hands per set')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--list', action='store_true', help='print the settings and exit')
    parser.add_argument('--gap', action='store_true',
                        help='print photometric statistics of real and generated crops, no '
                        'training')
    parser.add_argument('--checkpoint', nargs=2, action='append', default=[],
                        metavar=('CONFIG', 'PTH'), help='score this trained model on the real '
                        'sets, no generating or training (repeatable: one row each)')
    parser.add_argument('--quiet', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print('\n'.join(setting_names()))
        return 0
    unknown = [s for s in args.settings if s not in setting_names()]
    if unknown:
        print(f"sim2real: error: unknown setting(s) {', '.join(unknown)}; known: "
              f"{', '.join(setting_names())}", file=sys.stderr)
        return 2
    with user_errors_exit('sim2real'):
        fixtures = real_hands.locate_fixtures(args.fixtures)
        args.real_sets = real_hands.fixture_sets(fixtures) + [
            real_hands.config_set(c) for c in args.real]
        out = args.out or osp.join(args.work_dir, 'sim2real.md')
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        if args.gap:
            roots = {s: generate(s, osp.join(args.data_dir, s), args) for s in args.settings}
            gap = write_gap(args.settings, roots, args, osp.splitext(out)[0] + '_gap.md')
            print(Path(gap).read_text())
            return 0
        rows, results, roots = [], {}, {}
        if args.checkpoint:
            for config, checkpoint in args.checkpoint:
                row, found = score_checkpoint(config, checkpoint, args)
                if row['setting'] in results:   # same folder and file name: keep both rows
                    row['setting'] += f' ({len(rows) + 1})'
                rows.append(row)
                results[row['setting']] = found
                stem = write_report(rows, args, out)
                _print_row(row, args)
        for setting in ([] if args.checkpoint else args.settings):
            start = time.perf_counter()
            data_root = generate(setting, osp.join(args.data_dir, setting), args)
            roots[setting] = data_root
            checkpoint = train(args.config, data_root, osp.join(args.work_dir, setting), args)
            sets = args.real_sets + [synthetic_test_set(data_root)]
            found = evaluate(args.config, checkpoint, sets, args)
            results[setting] = found
            row = dict(setting=setting, checkpoint=checkpoint,
                       pool=real_hands.pooled_metrics(found),
                       sets={r.name: r.metrics() for r in found},
                       seconds=time.perf_counter() - start)
            rows.append(row)
            # the table and json so far, after every row: a run stopped later loses no row
            stem = write_report(rows, args, out)
            _print_row(row, args)
        from poseforge.skeletons import HAND21
        write_gallery(rows, results, stem + '_gallery.png', HAND21.metainfo())
        if roots:
            write_samples(roots, stem + '_samples.png')
        print(Path(out).read_text())
    return 0


if __name__ == '__main__':
    sys.exit(main())
