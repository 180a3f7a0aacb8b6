#!/usr/bin/env python
"""Draw what the model will see: samples after a config's data pipeline.

    python tools/browse_dataset.py CONFIG [--split train|val|test] [--num N] [--out DIR]
                                   [--cfg-options k=v ...]

For each sample one PNG: the original image with the box (left), the network's input crop with
the skeleton of the transformed keypoints (filled dots: labelled, rings: unlabelled/outside), and
the crop under the target heatmaps (max over keypoints) when the pipeline makes targets.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp

from _common import add_cfg_options, user_errors_exit

import cv2
import numpy as np
from tqdm import tqdm

from poseforge.utils.fileio import atomic_write_bytes
from poseforge.visualization import draw_pose


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=8)
    parser.add_argument('--out', default=None, help='default: work_dirs/browse/<config name>')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def heatmap_overlay(crop: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """The crop darkened, with the max-over-keypoints heatmap in a colour map on top."""
    peak = heatmaps.max(axis=0)
    peak = cv2.resize(peak, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.uint8(np.clip(peak, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8(0.5 * crop + 0.5 * colour)


def original_with_box(meta: dict, height: int) -> np.ndarray:
    img = cv2.imread(meta['img_path'], cv2.IMREAD_COLOR)
    if img is None:
        return np.zeros((height, height, 3), np.uint8)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = (int(round(v)) for v in meta['bbox'])
    cv2.rectangle(img, (x1, y1), (x2, y2), (255, 255, 0), max(1, img.shape[0] // 200))
    scale = height / img.shape[0]
    return cv2.resize(img, (max(1, int(img.shape[1] * scale)), height))


def render_sample(sample: dict, metainfo: dict) -> np.ndarray:
    crop = sample['inputs'].permute(1, 2, 0).numpy().copy()
    data = sample['data_samples']
    meta = data['meta']
    weights = (data['keypoint_weights'].numpy() if 'keypoint_weights' in data
               else np.asarray(meta['keypoints_visible']))
    kpts = np.asarray(meta.get('transformed_keypoints', np.zeros((len(weights), 2))))
    drawn = draw_pose(crop, kpts, metainfo['limbs'], weights > 0,
                      metainfo.get('keypoint_colors'), metainfo.get('limb_colors'))
    for x, y in kpts[weights <= 0]:
        cv2.circle(drawn, (int(round(x)), int(round(y))), 3, (255, 255, 255), 1, cv2.LINE_AA)
    panels = [original_with_box(meta, crop.shape[0]), drawn]
    if 'heatmaps' in data:
        panels.append(heatmap_overlay(crop, data['heatmaps'].numpy()))
    return np.concatenate(panels, axis=1)


def main(argv=None) -> list[str]:
    args = parse_args(argv)
    with user_errors_exit('browse_dataset.py'):
        from mmengine.registry import init_default_scope

        from poseforge.registry import DATASETS
        from poseforge.utils.config import load_config
        cfg = load_config(args.config, args.cfg_options)
        init_default_scope('poseforge')
        dataset = DATASETS.build(cfg[f'{args.split}_dataloader']['dataset'])
        out = args.out or osp.join('work_dirs', 'browse',
                                   osp.splitext(osp.basename(args.config))[0])
        os.makedirs(out, exist_ok=True)
        written = []
        for i in tqdm(range(min(args.num, len(dataset))), desc='drawing', unit='sample'):
            panel = render_sample(dataset[i], dataset.metainfo)
            path = osp.join(out, f'{args.split}_{i:04d}.png')
            ok, png = cv2.imencode('.png', cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
            atomic_write_bytes(png.tobytes(), path, durable=False)
            written.append(path)
    print(f'{len(written)} samples drawn to {out}')
    return written


if __name__ == '__main__':
    main()
