#!/usr/bin/env python
"""Evaluate a checkpoint on a config's test split.

    python tools/eval.py CONFIG CHECKPOINT [--work-dir DIR] [--out metrics.json]
                         [--dump predictions.json] [--vis N] [--backend torch|onnxruntime]
                         [--cfg-options k=v ...]
                         [--launcher none|pytorch|slurm]

Prints a metric table, writes every metric to ``--out`` (default: <work dir>/metrics.json), and
with ``--vis N`` draws N predictions (ground truth in white) into <work dir>/predictions.png
(3D models: also predictions_3d.png, predicted vs true 3D skeletons from two viewpoints and,
for DGGAN, the generated depth beside the real one).

The checkpoint must fit the config's model exactly (a checkpoint of another model is refused
with the keys that differ); an unreadable checkpoint or image, or an empty test set, stops with
one line naming it (exit status 2).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp

from _common import add_cfg_options, default_work_dir, user_errors_exit

from poseforge.utils.fileio import atomic_write_bytes
from poseforge.engine.checkpoint import check_checkpoint_file
from poseforge.engine.distributed import prepare_distributed, shutdown_distributed
from poseforge.engine.runner import PoseRunner
from poseforge.utils.config import load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir')
    parser.add_argument('--out', help='metrics JSON (default: <work dir>/metrics.json)')
    parser.add_argument('--dump', help='write every prediction to this JSON file')
    parser.add_argument('--vis', type=int, default=0, metavar='N',
                        help='draw N predictions into <work dir>/predictions.png')
    parser.add_argument('--backend', choices=['torch', 'onnxruntime'], default='torch',
                        help='onnxruntime: CHECKPOINT may be an exported .onnx file '
                        '(tools/export_onnx.py), else its weights are exported in memory')
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace):
    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    onnx_file = (args.checkpoint if args.backend == 'onnxruntime'
                 and args.checkpoint.endswith('.onnx') else None)
    if onnx_file is None:
        check_checkpoint_file(args.checkpoint)
    elif not osp.isfile(onnx_file):
        raise FileNotFoundError(f"ONNX model not found: '{onnx_file}'")
    # Evaluation loads every weight or nothing (a config's load_strict=False is for training).
    cfg.load_from, cfg.resume, cfg.load_strict = args.checkpoint, False, True
    if args.backend == 'onnxruntime':
        from poseforge.deploy import onnxruntime_model_cfg
        cfg.model = onnxruntime_model_cfg(cfg.model, onnx_file)
        if onnx_file:
            cfg.load_from = None  # the weights are in the .onnx file
    dump = args.dump or (osp.join(cfg.work_dir, 'predictions.json') if args.vis else None)
    if dump:
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='DumpPredictions', out_file=dump)]
    prepare_distributed(cfg, args.launcher)
    return cfg, dump


def json_safe(metrics: dict) -> dict:
    """``metrics`` with non-finite floats (NaN, inf) as ``None``."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in metrics.items()}


def format_table(metrics: dict) -> str:
    width = max([len(k) for k in metrics] + [6])
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  ---------"]
    lines += [f'{k:<{width}}  {v:.4f}' if isinstance(v, float) else f'{k:<{width}}  {v}'
              for k, v in metrics.items()]
    return '\n'.join(lines)


def draw_predictions(dump_file: str, metainfo: dict, num: int, out_png: str) -> str:
    import cv2
    import numpy as np

    from poseforge.visualization import prediction_grid
    with open(dump_file) as f:
        records = json.load(f)[:num]
    images, preds = [], []
    for rec in records:
        img = cv2.imread(rec['img_path'], cv2.IMREAD_COLOR)
        if img is None:
            continue
        images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        preds.append({k: np.asarray(v) for k, v in rec.items() if k != 'img_path'})
    grid = prediction_grid(images, preds, metainfo)
    ok, buf = cv2.imencode('.png', cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    atomic_write_bytes(buf.tobytes(), out_png)
    return out_png


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        with user_errors_exit('eval.py'):
            cfg, dump = build_cfg(args)
            runner = PoseRunner.from_cfg(cfg)
            metrics = runner.test()
    finally:
        shutdown_distributed()
    if runner.rank != 0:
        return metrics
    metrics = {k: float(v) if isinstance(v, (int, float)) else v for k, v in metrics.items()}
    out = args.out or osp.join(cfg.work_dir, 'metrics.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    # NaN (a metric with nothing to score, e.g. side accuracy without a labelled side) is not
    # JSON: written as null so that every JSON reader loads the file.
    atomic_write_bytes(json.dumps(json_safe(metrics), indent=2, allow_nan=False).encode(), out)
    print(format_table(metrics))
    print(f'metrics written to {out}')
    if dump:
        print(f'predictions written to {dump}')
    if args.vis:
        meta = runner.test_dataloader.dataset.metainfo
        png = draw_predictions(dump, meta, args.vis, osp.join(cfg.work_dir, 'predictions.png'))
        print(f'prediction drawing written to {png}')
        from poseforge.visualization.hand3d import draw_hand3d_predictions  # 3D models only
        png_3d = draw_hand3d_predictions(runner, args.vis, cfg.work_dir)
        if png_3d:
            print(f'3D drawing (skeletons from two views, depth maps) written to {png_3d}')
    return metrics


if __name__ == '__main__':
    main()
