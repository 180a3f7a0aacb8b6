"""Generate the synthetic multi-view hand dataset (COCO-style; see poseforge/generation/writer.py).

    python tools/generate_dataset.py --out data/synth_hands --num 1500 --views 2 --seed 0

writes ``images/{train,test}/*.jpg`` and ``annotations/{train,test}.json`` under ``--out`` and
prints where they went and the measured images/s. The result depends only on the seed and the
settings, never on ``--workers``. ``--benchmark`` renders ``--num`` samples in memory on one
process (nothing written) and prints images/s per core.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from poseforge.generation.synth_hands import (GenerationConfig, benchmark,  # noqa: E402
                                              generate_dataset)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='output directory (required unless --benchmark)')
    parser.add_argument('--num', type=int, required=True, help='number of hand samples')
    parser.add_argument('--views', type=int, default=4, help='cameras (images) per sample')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=256, help='image side in pixels')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes (default: all cores); does not change the output')
    parser.add_argument('--test-fraction', type=float, default=0.2,
                        help='share of samples (all their views) in the test split')
    parser.add_argument('--png', action='store_true', help='lossless PNG instead of JPEG q95')
    parser.add_argument('--left-fraction', type=float, default=0.0,
                        help='share of left hands (mirrored)')
    parser.add_argument('--save-depth', action='store_true',
                        help='also write depth (uint16 PNG, mm) and hand masks per view')
    parser.add_argument('--benchmark', action='store_true',
                        help='only measure rendering speed on one process; write nothing')
    args = parser.parse_args(argv)
    if not args.benchmark and not args.out:
        parser.error('--out is required (or use --benchmark)')
    if args.num < 1 or args.views < 1 or args.size < 16 or args.workers < 1:
        parser.error('--num, --views and --workers must be >= 1 and --size >= 16')
    if not 0.0 <= args.test_fraction <= 1.0:
        parser.error('--test-fraction must lie in [0, 1]')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = GenerationConfig(image_ext='.png' if args.png else '.jpg',
                           left_fraction=args.left_fraction, save_depth=args.save_depth)
    if args.benchmark:
        rate = benchmark(num=args.num, views=args.views, size=args.size, seed=args.seed,
                         cfg=cfg)
        print(f'rendered {args.num * args.views} images of {args.size}x{args.size} on one '
              f'process: {rate:.1f} images/s per core')
        return 0
    summary = generate_dataset(args.out, num=args.num, views=args.views, seed=args.seed,
                               size=args.size, workers=args.workers,
                               test_fraction=args.test_fraction, cfg=cfg, progress=True)
    counts = ', '.join(f'{split} {n}' for split, n in summary.num_images.items())
    print(f'wrote {sum(summary.num_images.values())} images ({counts}) to '
          f'{os.path.abspath(args.out)}')
    for split, path in summary.ann_files.items():
        print(f'  {split}: {os.path.abspath(path)}')
    print(f'{summary.seconds:.1f} s, {summary.images_per_second:.1f} images/s with '
          f'{args.workers} worker(s) '
          f'({summary.images_per_second / args.workers:.1f} images/s per worker)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
