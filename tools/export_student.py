#!/usr/bin/env python
"""Export a distiller's student as a plain model: a checkpoint and the config that loads it.

    python tools/export_student.py CONFIG CHECKPOINT --out student.pth [--branch I]
                                   [--cfg-options k=v ...]

CONFIG is the distiller's config (e.g. configs/okdhp/...), CHECKPOINT one of its training
checkpoints. Writes student.pth (the student estimator's weights, poseforge's checkpoint
layout, atomic) and student.py beside it (the same config with the student as ``model``):

    python tools/eval.py student.py student.pth
    python tools/webcam_demo.py student.py student.pth

``--branch`` picks which of a multi-branch distiller's students to keep (OKDHP: 0 .. N-1;
default: the config's ``student_branch``).
"""
from __future__ import annotations

import argparse
import sys

from _common import add_cfg_options, user_errors_exit

from poseforge.distillers.export import export_student_files
from poseforge.utils.config import load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help="the distiller's config")
    parser.add_argument('checkpoint', help="the distiller's training checkpoint")
    parser.add_argument('--out', required=True, help='student checkpoint (.pth); its config is '
                        'written beside it with the .py suffix')
    parser.add_argument('--branch', type=int, default=None,
                        help='which student of a multi-branch distiller (OKDHP: 0..N-1)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> tuple[str, str]:
    args = parse_args(argv)
    with user_errors_exit('export_student.py'):
        cfg = load_config(args.config, args.cfg_options)
        try:
            ckpt, config = export_student_files(cfg, args.checkpoint, args.out, args.branch)
        except ValueError as err:  # wrong model type, checkpoint that does not fit, bad --out
            print(f'export_student.py: error: {err}', file=sys.stderr)
            sys.exit(2)
    print(f'student checkpoint: {ckpt}\nstudent config: {config}')
    return str(ckpt), str(config)


if __name__ == '__main__':
    main()
