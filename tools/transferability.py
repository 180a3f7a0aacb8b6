#!/usr/bin/env python
"""Rank candidate teachers for a target model by the affinity of their attribution maps.

    python tools/transferability.py CONFIG CKPT [CONFIG CKPT ...] --probe DATA_ROOT
        [--names A B ...] [--target NAME] [--num-images 64] [--method gradient_x_input]
        [--split test] [--out-dir work_dirs/transferability]

Every model (a config + checkpoint pair: plain estimators, exported students, or a distiller's
own checkpoint, whose student is used) computes attribution maps of its heatmap peaks
(gradient x input, or saliency) on the same probe images (the first ``--num-images`` of
``DATA_ROOT``'s split, through each model's own test pipeline); the affinity of two models is
the mean cosine similarity of their maps (arXiv 1909.11902). Written to ``--out-dir``:
``affinity.json`` (names, matrix, ranking, settings), ``ranking.md`` (the candidates for
``--target``, most related first) and ``transferability.png`` (the matrix as a heatmap and the
dendrogram of the models). Use: choose which released model to distil into the target's task.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from pathlib import Path

from _common import ROOT_DIR, user_errors_exit  # noqa: F401  (ROOT_DIR: sys.path)
from poseforge.utils.fileio import atomic_write_text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pairs', nargs='+', metavar='CONFIG CKPT',
                        help='config and checkpoint of each model, in pairs')
    parser.add_argument('--probe', required=True, help='data root of the probe images')
    parser.add_argument('--names', nargs='+', default=None, help='a name per model')
    parser.add_argument('--target', default=None, help='the model to rank teachers for '
                        '(a name; default: the first model)')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--method', default='gradient_x_input',
                        choices=['gradient_x_input', 'saliency'])
    parser.add_argument('--split', default='test', help='annotation split of the probe data')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--out-dir', default='work_dirs/transferability')
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error(f'models come as CONFIG CKPT pairs; got {len(args.pairs)} paths')
    models = list(zip(args.pairs[::2], args.pairs[1::2]))
    args.models = models
    if args.names is None:
        args.names = [Path(ckpt).stem if Path(ckpt).stem not in ('student', 'latest') and
                      not Path(ckpt).stem.startswith('epoch_') else Path(cfg).stem
                      for cfg, ckpt in models]
    if len(args.names) != len(models):
        parser.error(f'--names gives {len(args.names)} names for {len(models)} models')
    if len(set(args.names)) != len(args.names):
        parser.error(f'model names must differ: {args.names} (give --names)')
    args.target = args.target or args.names[0]
    if args.target not in args.names:
        parser.error(f"--target '{args.target}' is not one of {args.names}")
    if args.num_images < 2:
        parser.error('--num-images must be at least 2')
    return args


def load_estimator(config: str, checkpoint: str):
    """The estimator to attribute: the model itself, or a distiller's student."""
    from poseforge.apis import init_model
    from poseforge.distillers import BaseDistiller
    model = init_model(config, checkpoint)
    if isinstance(model, BaseDistiller):
        estimator = model.student_estimator()
        estimator.cfg, estimator.dataset_meta = model.cfg, model.dataset_meta
        model = estimator
    return model.eval()


def probe_inputs(model, probe: str, split: str, num: int, batch_size: int):
    """Batches of the model's normalised input crops of the first ``num`` probe images."""
    import copy

    from poseforge.datasets.collate import pose_collate
    from poseforge.registry import DATASETS
    loader = model.cfg.get('test_dataloader') or model.cfg.val_dataloader
    dataset_cfg = copy.deepcopy(loader['dataset']).to_dict()
    ann = osp.join(probe, 'annotations', f'{split}.json')
    if not osp.isfile(ann):
        raise FileNotFoundError(f"probe annotations not found: '{ann}' (--probe is a data root "
                                'with annotations/<split>.json)')
    dataset_cfg.update(data_root=probe, ann_file=f'annotations/{split}.json',
                       data_prefix=dict(img=f'images/{split}/'), indices=num)
    dataset = DATASETS.build(dataset_cfg)
    for start in range(0, len(dataset), batch_size):
        batch = pose_collate([dataset[i] for i in range(start, min(start + batch_size,
                                                                     len(dataset)))])
        yield model.data_preprocessor(batch, training=False)['inputs']


def main(argv=None) -> dict:
    args = parse_args(argv)
    with user_errors_exit('transferability.py'):
        import torch
        from mmengine.registry import init_default_scope

        from poseforge.analysis.attribution import (affinity_matrix, attribution_maps,
                                                    estimator_heatmaps, plot_affinity,
                                                    rank_candidates, resize_maps)
        init_default_scope('poseforge')
        maps, size = {}, None
        for name, (config, checkpoint) in zip(args.names, args.models):
            model = load_estimator(config, checkpoint)
            chunks = [attribution_maps(estimator_heatmaps(model), x, args.method)
                      for x in probe_inputs(model, args.probe, args.split, args.num_images,
                                            args.batch_size)]
            model_maps = torch.cat(chunks)
            size = size or tuple(model_maps.shape[-2:])
            maps[name] = resize_maps(model_maps, size)
            print(f'{name}: {model_maps.shape[0]} attribution maps '
                  f'{tuple(model_maps.shape[-2:])}', flush=True)
        names, affinity = affinity_matrix(maps)
        ranking = rank_candidates(names, affinity, args.target)
    os.makedirs(args.out_dir, exist_ok=True)
    result = dict(names=names, affinity=affinity.round(6).tolist(), target=args.target,
                  ranking=[dict(model=n, affinity=round(a, 6)) for n, a in ranking],
                  method=args.method, num_images=int(next(iter(maps.values())).shape[0]),
                  probe=args.probe, split=args.split,
                  models=[dict(name=n, config=c, checkpoint=k)
                          for n, (c, k) in zip(args.names, args.models)])
    atomic_write_text(json.dumps(result, indent=1), Path(args.out_dir, 'affinity.json'))
    lines = [f'Candidate teachers for `{args.target}` by attribution-map affinity '
             f'({args.method}, {result["num_images"]} probe images of `{args.probe}`):', '',
             '| rank | model | affinity |', '|---:|---|---:|']
    lines += [f'| {i} | {n} | {a:.4f} |' for i, (n, a) in enumerate(ranking, 1)]
    atomic_write_text('\n'.join(lines) + '\n', Path(args.out_dir, 'ranking.md'))
    plot = plot_affinity(names, affinity, osp.join(args.out_dir, 'transferability.png'),
                         title=f'{args.method}, {result["num_images"]} probe images')
    print('\n'.join(lines))
    print(f'plot: {plot}')
    return result


if __name__ == '__main__':
    main()
    sys.exit(0)
