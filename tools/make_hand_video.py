#!/usr/bin/env python
"""Write a video of generated hands moving over a background (for demos and benchmarks).

    python tools/make_hand_video.py --data data/synth_hands --out hands.avi \\
        [--hands 2] [--frames 300] [--size 640x480] [--hand-size 0.4] [--seed 0] [--fps 30]

Hands are cut out of ``--data``'s test split with their masks (a generated dataset with
masks: tools/generate_dataset.py) and move on smooth, different Lissajous paths; the first one
also leaves the frame for a while and comes back. ``--boxes FILE`` also writes the true boxes
(JSON: frames x hands x [x1, y1, x2, y2], null where a hand is out of the frame).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from poseforge.generation.composite import cut_out_hand, moving_hands_video  # noqa: E402
from poseforge.utils.fileio import atomic_write_json  # noqa: E402


def hand_paths(frames: int, hands: int, size: tuple[int, int], leave: bool = True
               ) -> np.ndarray:
    """``(frames, hands, 2)`` centres on Lissajous paths; hand 0 leaves for a tenth of the
    video (from 40% to 50%) to the right and comes back."""
    w, h = size
    t = np.linspace(0, 1, frames)[:, None]
    k = np.arange(hands)[None, :]
    x = w * (0.5 + 0.3 * np.sin(2 * np.pi * (1 + 0.5 * k) * t + k))
    y = h * (0.5 + 0.25 * np.sin(2 * np.pi * (1.5 + 0.5 * k) * t + 2 * k))
    centres = np.stack([x, y], -1)
    if leave:
        gone = (t[:, 0] >= 0.4) & (t[:, 0] < 0.5)
        centres[gone, 0] = np.nan
    return centres


def load_cutouts(root: str, count: int, seed: int) -> list:
    ann = json.loads(Path(root, 'annotations', 'test.json').read_text())
    rng = np.random.default_rng(seed)
    cutouts = []
    for i in rng.permutation(len(ann['images'])):
        image = ann['images'][int(i)]
        rgb = cv2.imread(osp.join(root, 'images', 'test', image['file_name']))
        mask = cv2.imread(osp.join(root, 'masks', 'test', image['mask_file']),
                          cv2.IMREAD_GRAYSCALE)
        if rgb is None or mask is None:
            continue
        cut = cut_out_hand(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), mask, 0)
        if cut is not None and min(cut.alpha.shape) > 0.3 * max(cut.alpha.shape):
            cutouts.append(cut)
        if len(cutouts) == count:
            return cutouts
    raise SystemExit(f"make_hand_video.py: error: fewer than {count} usable hands with masks "
                     f"in '{root}'")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', required=True, help='a generated dataset (with masks)')
    parser.add_argument('--out', required=True, help='video file (.avi: MJPG, .mp4: mp4v)')
    parser.add_argument('--hands', type=int, default=2)
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--size', default='640x480')
    parser.add_argument('--hand-size', type=float, default=0.4,
                        help="hand's longer side, fraction of the frame height")
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--boxes', help='also write the true boxes here (JSON)')
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split('x'))
    cutouts = load_cutouts(args.data, args.hands, args.seed)
    frames, boxes = moving_hands_video(cutouts, hand_paths(args.frames, args.hands, (w, h)),
                                       args.hand_size * h, (w, h), args.seed)
    fourcc = cv2.VideoWriter_fourcc(*('MJPG' if args.out.lower().endswith('.avi') else 'mp4v'))
    writer = cv2.VideoWriter(args.out, fourcc, args.fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    if args.boxes:
        atomic_write_json([[None if np.isnan(b).any() else [round(float(v), 1) for v in b]
                            for b in f] for f in boxes], args.boxes)
    print(f'{len(frames)} frames of {args.hands} hand(s) written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
