#!/usr/bin/env python
"""Live hand keypoints from a webcam (or a video file), drawn on the frames.

    python tools/webcam_demo.py CONFIG CHECKPOINT [--source 0|video.mp4]
        [--det-config configs/detector/center-hand_synth-hands-256x192.py --det-checkpoint K]
        [--body-config C --body-checkpoint K] [--backend torch|onnxruntime] [--smooth]
        [--max-hands 2] [--detect-every 10] [--out annotated.mp4] [--json-out frames.jsonl]
        [--no-show] [--max-frames N] [--benchmark]

tools/video_demo.py with the camera (``--source 0``) as the default source; every option is
described there. With a hand detector the hands are found anywhere in the frame and tracked
(up to ``--max-hands``, labelled left/right); without one, hold the hand inside the centred
square (or ``--box x1,y1,x2,y2``) to start.
"""
from __future__ import annotations

import sys

import video_demo
from video_demo import main as _main
from poseforge.tracking import box_from_keypoints, centred_box  # noqa: F401  (re-exported)


def main(argv=None) -> int:
    return _main(argv, tool='webcam_demo.py', default_source='0')


__all__ = ['main', 'box_from_keypoints', 'centred_box', 'video_demo']

if __name__ == '__main__':
    sys.exit(main())
