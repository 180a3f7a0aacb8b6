"""Generate a synthetic multi-view hand dataset by MVHM spin match (poseforge/generation/).

    python tools/generate_dataset.py --out data/synth_hands --num 2000 --views 2 --seed 0
    python tools/generate_dataset.py --out data/mvhm --num 50 --views 4 --rig mhp \\
        --poses-from mhp:datasets/mhp --sequence-length 30 --match-lengths --format mhp

writes, per view, RGB, depth (16-bit PNG, mm) and hand mask, and ``annotations/{train,test}.json``
(COCO style, with calibration, 2D/3D keypoints, visibility, sequence and frame ids) or MHP's own
layout (``--format mhp``), plus ``gallery.png``. ``--num`` counts sequences (of
``--sequence-length`` frames, 1 by default). The result depends only on the seed, the settings
and the targets, never on ``--workers``; an interrupted run continues where it stopped when run
again with the same arguments. A worker process that dies (killed for memory) is noticed at
once and its units run again; after three deaths the run stops with one line (exit status 2),
keeping the finished units. ``--benchmark`` renders ``--num`` sequences in memory on one
process (nothing written) and prints rendered views/s per core. ``--scene legacy`` renders the
look of poseforge before the scene options (one-tone skin, one light, colour-block backgrounds);
``--scene-options '{"object_prob": 0, "sleeve_prob": 1}'`` changes single options of the
default look (``poseforge.generation.appearance.SceneConfig``). ``--grasp-prob`` is the share of
random poses drawn from the grasp prior (fists, power and precision grasps, pinches, gestures;
``poseforge.generation.pose_prior.GRASPS``); 0 gives the poses of the prior without grasps.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from poseforge.generation.appearance import scene_from_dict  # noqa: E402
from poseforge.generation.pose_prior import PriorConfig  # noqa: E402
from poseforge.generation.rigs import RIGS  # noqa: E402
from poseforge.generation.synth_hands import (FORMATS, GenerationConfig,  # noqa: E402
                                              GenerationError, benchmark, generate_dataset)
from poseforge.generation.targets import PoseSourceError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='output directory (required unless --benchmark)')
    parser.add_argument('--num', type=int, required=True, help='number of sequences (samples)')
    parser.add_argument('--views', type=int, default=4, help='cameras (images) per frame')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=256,
                        help='image side in pixels (ring and sphere rigs; mhp is 640x480)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes (default: all cores); does not change the output')
    parser.add_argument('--poses-from', default='random',
                        help='target poses: random | json:PATH | stb:ROOT | rhd:ROOT | mhp:ROOT')
    parser.add_argument('--source-args', default=None,
                        help='json object of extra arguments for the --poses-from loader')
    parser.add_argument('--sequence-length', type=int, default=1, help='frames per sequence')
    parser.add_argument('--rig', choices=RIGS, default='ring', help='camera rig')
    parser.add_argument('--match-lengths', action='store_true',
                        help="scale the template's bones to the targets' (joints = targets)")
    parser.add_argument('--backgrounds', help='folder of background images (else procedural)')
    parser.add_argument('--format', choices=FORMATS, default='coco', dest='output_format',
                        help="coco json (default) or MHP's original layout")
    parser.add_argument('--test-fraction', type=float, default=0.2,
                        help='share of sequences (all their views) in the test split')
    parser.add_argument('--png', action='store_true', help='lossless PNG instead of JPEG q95')
    parser.add_argument('--left-fraction', type=float, default=0.0,
                        help='share of left hands (mirrored) among random poses')
    parser.add_argument('--no-depth', action='store_true',
                        help='skip the depth and mask images')
    parser.add_argument('--save-depth', action='store_true',
                        help='(default now; kept for old command lines)')
    parser.add_argument('--scene', choices=('realistic', 'legacy'), default='realistic',
                        help='the look of the images (labels never depend on it)')
    parser.add_argument('--scene-options', default=None, metavar='JSON',
                        help='options of the realistic look, e.g. \'{"object_prob": 0}\'')
    parser.add_argument('--grasp-prob', type=float, default=PriorConfig.grasp_prob,
                        help='share of random poses drawn from the grasp prior (fists, grasps, '
                        'pinches, gestures; default %(default)s)')
    parser.add_argument('--benchmark', action='store_true',
                        help='only measure rendering speed on one process; write nothing')
    args = parser.parse_args(argv)
    if not args.benchmark and not args.out:
        parser.error('--out is required (or use --benchmark)')
    if (args.num < 1 or args.views < 1 or args.size < 16 or args.workers < 1
            or args.sequence_length < 1):
        parser.error('--num, --views, --workers and --sequence-length must be >= 1 and '
                     '--size >= 16')
    if not 0.0 <= args.test_fraction <= 1.0:
        parser.error('--test-fraction must lie in [0, 1]')
    if not 0.0 <= args.grasp_prob <= 1.0:
        parser.error('--grasp-prob must lie in [0, 1]')
    if args.source_args is not None:
        try:
            args.source_args = json.loads(args.source_args)
        except json.JSONDecodeError as err:
            parser.error(f'--source-args is not valid json ({err})')
        if not isinstance(args.source_args, dict):
            parser.error('--source-args must be a json object')
    try:
        options = json.loads(args.scene_options) if args.scene_options else {}
        if not isinstance(options, dict):
            raise ValueError('--scene-options must be a json object')
        args.scene = scene_from_dict(dict(options, preset=args.scene))
    except (json.JSONDecodeError, ValueError, TypeError) as err:
        parser.error(f'--scene-options: {err}')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = GenerationConfig(image_ext='.png' if args.png else '.jpg',
                           left_fraction=args.left_fraction, save_depth=not args.no_depth,
                           sequence_length=args.sequence_length, rig=args.rig,
                           match_lengths=args.match_lengths, output_format=args.output_format,
                           poses_from=args.poses_from, backgrounds=args.backgrounds,
                           scene=args.scene, prior=PriorConfig(grasp_prob=args.grasp_prob))
    try:
        if args.benchmark:
            rate = benchmark(num=args.num, views=args.views, size=args.size, seed=args.seed,
                             cfg=cfg)
            print(f'rendered {args.num * args.views * args.sequence_length} views (RGB + depth '
                  f'+ mask) of {args.size}x{args.size} on one process: {rate:.1f} views/s '
                  'per core (images/s)')
            return 0
        summary = generate_dataset(args.out, num=args.num, views=args.views, seed=args.seed,
                                   size=args.size, workers=args.workers,
                                   test_fraction=args.test_fraction, cfg=cfg, progress=True,
                                   source_args=args.source_args)
    except (GenerationError, PoseSourceError) as err:
        print(f'generate_dataset.py: error: {err}', file=sys.stderr)
        return 2
    except OSError as err:  # an --out that cannot be written, a full disk: finished units stay
        where = f" '{err.filename}'" if err.filename else ''
        print(f'generate_dataset.py: error: cannot write{where}: {err.strerror or err}; the '
              'finished units are kept, run the same command again to resume', file=sys.stderr)
        return 2
    counts = ', '.join(f'{split} {n}' for split, n in summary.num_images.items())
    print(f'wrote {sum(summary.num_images.values())} images ({counts}) to '
          f'{os.path.abspath(args.out)}')
    if summary.resumed_units:
        print(f'  resumed: {summary.resumed_units} sequence(s) were already done')
    for split, path in summary.ann_files.items():
        print(f'  {split}: {os.path.abspath(path)}')
    print(f'  gallery: {os.path.abspath(os.path.join(args.out, "gallery.png"))}')
    print(f'{summary.seconds:.1f} s, {summary.images_per_second:.1f} images/s with '
          f'{args.workers} worker(s) '
          f'({summary.images_per_second / args.workers:.1f} images/s per worker)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
