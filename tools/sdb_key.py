#!/usr/bin/env python
"""Write a Safe Distillation Box key: a fixed noise image blended into a boxed teacher's input.

    python tools/sdb_key.py --out KEY.npy --size W H [--seed S]

The key is standard normal noise of shape (3, H, W) (H x W: the network's input crop) in the
normalised input space, saved as a float32 .npy (atomically). Its owner keeps it: a boxed
teacher (configs/protect/sdb_*.py, model.key_file) is trained with it, and only a student
distilled with it (KeyedKDDistiller) gets the box's good knowledge.
"""
from __future__ import annotations

import argparse
import sys

from _common import ROOT_DIR  # noqa: F401  (puts the repository on sys.path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='the key file to write (.npy)')
    parser.add_argument('--size', type=int, nargs=2, required=True, metavar=('W', 'H'),
                        help="the network's input crop (codec input_size)")
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from poseforge.distillers.sdb import make_key, save_key
    width, height = args.size
    if width <= 0 or height <= 0:
        parser.error(f'--size must be positive, got {width} {height}')
    save_key(args.out, make_key((height, width), args.seed))
    print(f'key (3, {height}, {width}), seed {args.seed}: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
