#!/usr/bin/env python
"""TASSN results table on generated sequences: per-frame 3D estimator vs TASSN (2D labels only)
vs TASSN + 3D supervision, same budget and seed.

    python tools/generate_dataset.py --out data/synth_seq --num 48 --views 2 --size 128 \\
        --sequence-length 16 --seed 0
    python tools/tassn_table.py [--data-root data/synth_seq] [--iters 300] [--frames 32]
        [--clip 8] [--lr 2e-3] [--seed 0] [--threads 1] [--rows hand3d tassn tassn3d]
        [--work-dir work_dirs/tassn_table] [--out FILE.md]

Rows (light CPM trunk, 128 x 128 crops, configs in ``configs/tassn/``):

* **per-frame 3D estimator** (``hand3d_cpm-light_synth-seq-128.py``): heatmaps + relative
  depth with 3D labels, batches of ``--frames`` single frames;
* **TASSN, 2D labels only** (``tassn_cpm-light_synth-seq-128.py``): batches of ``--frames /
  --clip`` clips of ``--clip`` frames (the same frames per update), no depth target;
* **TASSN + 3D** (``tassn-3d_cpm-light_synth-seq-128.py``): the same with the depth loss;
* **ablation** (``--rows tassn_noself``): TASSN on 2D labels with the consistency and
  bone-length terms off (heatmap and reprojection losses only).

Every row: ``--iters`` updates of Adam ``--lr`` (constant), seed ``--seed``; evaluated on the
test split with ``tools/eval.py``: 3D EPE (mm) and AUC 20-50 mm with the ground-truth root
depth and bone length granted (the hand3d protocol), and the root-relative acceleration error
(mm / frame^2) and jitter (mm / frame^3) of the same prediction. What the depths are worth
(:func:`depth_diagnostic`): their mean absolute error in bone units, and the 3D EPE of each
row's own 2D rebuilt with a flat hand (all relative depths 0) and with the true depths.
``--diagnose-only`` recomputes that for finished rows.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

from _common import ROOT_DIR

from poseforge.utils.fileio import atomic_write_json

from hand3d_table import run, train_config

TASSN_CONFIG = 'configs/tassn/tassn_cpm-light_synth-seq-128.py'
#: key -> (table label, config, extra config lines)
ROWS = {
    'hand3d': ('per-frame 3D estimator (3D labels)',
               'configs/tassn/hand3d_cpm-light_synth-seq-128.py', ''),
    'tassn': ('TASSN (2D labels only)', TASSN_CONFIG, ''),
    'tassn3d': ('TASSN + 3D supervision', 'configs/tassn/tassn-3d_cpm-light_synth-seq-128.py',
                ''),
    'tassn_noself': ('ablation: TASSN 2D labels, no consistency / bone prior', TASSN_CONFIG,
                     'model = dict(loss_weights=dict(consistency=0.0, bone=0.0))'),
}
GIVEN = 'gt-root-depth+bone'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data/synth_seq')
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--frames', type=int, default=32, help='frames per update')
    parser.add_argument('--clip', type=int, default=8, help='frames per clip (TASSN rows)')
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--rows', nargs='+', default=['hand3d', 'tassn', 'tassn3d'],
                        choices=list(ROWS))
    parser.add_argument('--work-dir', default='work_dirs/tassn_table')
    parser.add_argument('--out', default=None)
    parser.add_argument('--diagnose-only', action='store_true',
                        help="recompute the depth diagnostic of the rows' last checkpoints")
    return parser.parse_args(argv)


def row_config(key: str, work_dir: str, args: argparse.Namespace) -> str:
    """A config in ``work_dir`` inheriting the row's config with the shared budget."""
    os.makedirs(work_dir, exist_ok=True)
    base = osp.join(ROOT_DIR, ROWS[key][1])
    clips = key != 'hand3d'
    batch = args.frames // args.clip if clips else args.frames
    loader = f'num_workers={args.workers}, persistent_workers={args.workers > 0}'
    root = repr(args.data_root)
    if clips:
        data = (f'dataset=dict(clip_length={args.clip}, stride={args.clip // 2}, '
                f'dataset=dict(data_root={root}))')
        val = f'dataset=dict(clip_length={args.clip}, stride={args.clip}, dataset=dict(data_root={root}))'
    else:
        data = val = f'dataset=dict(data_root={root})'
    lines = [
        f'_base_ = [{base!r}]',
        f'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters={args.iters}, '
        f'val_interval={args.iters}, val_begin={args.iters + 1})',
        'param_scheduler = []',
        f'randomness = dict(seed={args.seed})',
        'log_processor = dict(by_epoch=False)',
        'custom_hooks = []',
        f'default_hooks = dict(logger=dict(interval=10), checkpoint=dict(by_epoch=False, '
        f'interval={args.iters}, save_best=None, max_keep_ckpts=1))',
        f"optim_wrapper = dict(optimizer=dict(type='Adam', lr={args.lr}))",
        f'train_dataloader = dict(batch_size={batch}, {loader}, {data})',
        f'val_dataloader = dict({loader}, {val})',
        'test_dataloader = val_dataloader',
        ROWS[key][2],
    ]
    path = osp.join(work_dir, 'config.py')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def train_and_eval(key: str, work: str, args: argparse.Namespace) -> dict:
    work_dir = osp.join(work, key)
    config = row_config(key, work_dir, args)
    ckpt, seconds = train_config(config, work_dir, args.threads)
    out = osp.join(work_dir, 'metrics.json')
    run(['tools/eval.py', config, ckpt, '--work-dir', work_dir, '--out', out],
        osp.join(work_dir, 'eval.log'), args.threads)
    with open(out) as f:
        metrics = json.load(f)
    row = dict(key=key, model=ROWS[key][0], minutes=seconds / 60.0,
               epe=metrics.get(f'EPE3D/wrist/{GIVEN}'),
               auc=metrics.get(f'AUC3D_20-50/wrist/{GIVEN}'),
               epe_est=metrics.get('EPE3D/wrist/no-gt'),
               accel=metrics.get(f'AccelError/root0/{GIVEN}'),
               jitter=metrics.get(f'Jitter/root0/{GIVEN}'),
               jitter_gt=metrics.get(f'Jitter_gt/root0/{GIVEN}'),
               pck=metrics.get('PCK@0.2'))
    row.update(depth_diagnostic(config, ckpt))
    atomic_write_json(row, osp.join(work, 'rows', f'{key}.json'), indent=1)
    return row


def depth_diagnostic(config: str, ckpt: str) -> dict:
    """What the relative depths are worth: on the test split, the mean absolute error of the
    predicted relative depths (bone units) and the 3D EPE (granted root depth and bone, mm) of
    the model's own 2D rebuilt with a flat hand (every depth 0) and with the true depths."""
    import numpy as np
    import torch

    from poseforge.apis import init_model
    from poseforge.codecs.relative_depth import reconstruct_3d, undistort_points
    from poseforge.registry import DATASETS, FUNCTIONS
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    model = init_model(config, ckpt)
    loader_cfg = model.cfg.test_dataloader
    dataset = DATASETS.build(loader_cfg.dataset)
    collate = FUNCTIONS.get(loader_cfg.collate_fn['type'].split('.')[-1])
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=collate)
    codec = model.depth_codec
    mae, errors = [], {'pred': [], 'flat': [], 'true depth': []}
    for batch in loader:
        for p in model.test_step(batch):
            enc = codec.encode(p['keypoints_3d'])
            K = np.asarray(p['K'], np.float64)
            uv = undistort_points(p['pred_keypoints'], K, p.get('dist'))
            gt = np.asarray(p['keypoints_3d'], np.float64)
            depths = {'pred': p['pred_keypoint_depth'], 'flat': np.zeros(len(gt)),
                      'true depth': enc['keypoint_depth']}
            for name, depth in depths.items():
                pts = reconstruct_3d(uv, np.asarray(depth, np.float64), K, enc['root_depth'],
                                     enc['ref_bone_length'])
                err = np.linalg.norm((pts - pts[0]) - (gt - gt[0]), axis=-1).mean()
                errors[name].append(err)
            mae.append(np.abs(p['pred_keypoint_depth'] - enc['keypoint_depth']).mean())
    return dict(depth_mae=float(np.mean(mae)), epe_flat=float(np.mean(errors['flat'])),
                epe_true_depth=float(np.mean(errors['true depth'])),
                epe_check=float(np.mean(errors['pred'])))


def write_table(work: str, args: argparse.Namespace, path: str) -> str:
    rows = []
    for key in ROWS:
        p = osp.join(work, 'rows', f'{key}.json')
        if osp.isfile(p):
            with open(p) as f:
                rows.append(json.load(f))

    def fmt(value, digits):
        return '—' if value is None else f'{value:.{digits}f}'
    lines = [f'Generated sequences ({args.data_root}, test split), light CPM, 128 x 128 crops; '
             f'every row {args.iters} updates of {args.frames} frames (TASSN: '
             f'{args.frames // args.clip} clips of {args.clip}), Adam {args.lr:g} constant, '
             f'seed {args.seed}; 3D with the ground-truth root depth and bone length granted, '
             'root-relative to the wrist.', '',
             '| model | PCK@0.2 | 3D EPE mm | AUC 20-50 | 3D EPE mm (no GT) | accel. error '
             'mm/f² | jitter mm/f³ (GT) | depth MAE (bones) | EPE, flat hand | EPE, true depths '
             '| train min |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {fmt(r['pck'], 3)} | {fmt(r['epe'], 1)} | "
                     f"{fmt(r['auc'], 3)} | {fmt(r['epe_est'], 1)} | {fmt(r['accel'], 2)} | "
                     f"{fmt(r['jitter'], 2)} ({fmt(r['jitter_gt'], 2)}) | "
                     f"{fmt(r.get('depth_mae'), 2)} | {fmt(r.get('epe_flat'), 1)} | "
                     f"{fmt(r.get('epe_true_depth'), 1)} | {r['minutes']:.1f} |")
    text = '\n'.join(lines) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(osp.join(ROOT_DIR, args.data_root, 'annotations', 'test.json')):
        raise SystemExit(f"no generated sequences in '{args.data_root}' (see the usage above)")
    work = osp.join(ROOT_DIR, args.work_dir)
    for key in args.rows:
        if args.diagnose_only:
            path = osp.join(work, 'rows', f'{key}.json')
            with open(path) as f:
                row = json.load(f)
            with open(osp.join(work, key, 'last_checkpoint')) as f:
                row.update(depth_diagnostic(osp.join(work, key, 'config.py'), f.read().strip()))
            with open(path, 'w') as f:
                json.dump(row, f, indent=1)
        else:
            row = train_and_eval(key, work, args)
        print(json.dumps(row), flush=True)
    print(write_table(work, args, args.out or osp.join(work, 'table.md')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
