#!/usr/bin/env python
"""Live hand keypoints from a webcam (or a video file), drawn on the frames.

    python tools/webcam_demo.py CONFIG CHECKPOINT [--source 0|video.mp4] [--box x1,y1,x2,y2]
                                [--out annotated.mp4] [--no-show] [--max-frames N]

There is no hand detector: the first box is ``--box`` (default: a centred square of 60% of the
frame's height); after that the box follows the hand, set from the previous frame's confident
keypoints (padded), and falls back to the first box when confidence drops. Hold the hand inside
the drawn square to start.
"""
from __future__ import annotations

import argparse
import sys
import time

from _common import user_errors_exit

import cv2
import numpy as np

from poseforge.apis import inference_topdown, init_model
from poseforge.visualization import draw_pose


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--source', default='0', help='camera index or video file')
    parser.add_argument('--box', help='initial box x1,y1,x2,y2 in pixels')
    parser.add_argument('--out', help='also write the annotated frames to this video')
    parser.add_argument('--no-show', action='store_true', help='do not open a window')
    parser.add_argument('--max-frames', type=int, default=0)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def centred_box(width: int, height: int, frac: float = 0.6) -> np.ndarray:
    side = frac * height
    cx, cy = width / 2, height / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


def box_from_keypoints(kpts: np.ndarray, scores: np.ndarray, thr: float, pad: float = 1.3
                       ) -> np.ndarray | None:
    """A square box around the confident keypoints, or ``None`` if too few are confident."""
    good = kpts[scores > thr]
    if len(good) < 8:
        return None
    (x1, y1), (x2, y2) = good.min(0), good.max(0)
    side = max(x2 - x1, y2 - y1) * pad
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


def can_show() -> bool:
    try:
        cv2.namedWindow('poseforge')
        return True
    except cv2.error:
        return False


def main(argv=None) -> int:
    args = parse_args(argv)
    with user_errors_exit('webcam_demo.py'):
        model = init_model(args.config, args.checkpoint, device=args.device)
    source = int(args.source) if args.source.isdigit() else args.source
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        print(f"webcam_demo.py: error: cannot open video source '{args.source}'", file=sys.stderr)
        return 2
    show = not args.no_show and can_show()
    if not show and not args.out:
        print('webcam_demo.py: no display available (opencv-python-headless); '
              'pass --out FILE to write the annotated video', file=sys.stderr)
        return 2
    meta, writer, frames, start = model.dataset_meta, None, 0, time.perf_counter()
    first_box = None if not args.box else np.array(
        [float(v) for v in args.box.split(',')], np.float32)
    box = first_box
    while True:
        ok, frame_bgr = capture.read()
        if not ok or (args.max_frames and frames >= args.max_frames):
            break
        frame = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        h, w = frame.shape[:2]
        if first_box is None:
            first_box = box = centred_box(w, h)
        result = inference_topdown(model, frame, bboxes=[box])[0]
        shown = draw_pose(frame, result['keypoints'], meta['limbs'],
                          result['keypoint_scores'] > args.score_thr,
                          meta.get('keypoint_colors'), meta.get('limb_colors'), bbox=box)
        frames += 1
        fps = frames / (time.perf_counter() - start)
        cv2.putText(shown, f'{fps:.1f} fps', (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 1, cv2.LINE_AA)
        out_bgr = cv2.cvtColor(shown, cv2.COLOR_RGB2BGR)
        if args.out:
            if writer is None:
                writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*'mp4v'), 25, (w, h))
            writer.write(out_bgr)
        if show:
            cv2.imshow('poseforge', out_bgr)
            if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                break
        box = box_from_keypoints(result['keypoints'], result['keypoint_scores'],
                                 args.score_thr)
        box = first_box if box is None else box
    capture.release()
    if writer is not None:
        writer.release()
    print(f'{frames} frames, {frames / max(time.perf_counter() - start, 1e-9):.1f} fps'
          + (f', written to {args.out}' if args.out else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
