#!/usr/bin/env python
"""Real-time 2D pose on a video file or a camera: hands found, tracked, smoothed, written.

    python tools/video_demo.py CONFIG CHECKPOINT [--source video.mp4|0]
        [--det-config C --det-checkpoint K] [--side-config C --side-checkpoint K]
        [--body-config C --body-checkpoint K] [--backend torch|onnxruntime] [--max-hands 2] [--detect-every 10] [--smooth]
        [--out annotated.mp4] [--json-out frames.jsonl] [--no-show] [--max-frames N]
        [--benchmark] [--threads N] [--plot3d traj.png] [--joints 0,4,8] [--focal F]

Works frame by frame for any top-down model. With a hand model: the detector
(``configs/detector/``) finds up to ``--max-hands`` hands; the hand-side model
(``configs/hand_side/``, ``--side-config``) labels them left/right (palm or back, with the
keypoints' winding: poseforge/codecs/hand_side.py), else the detector's side output; between
detections each hand's box comes from its previous keypoints, matched across frames by IoU;
the detector runs again every ``--detect-every`` frames and whenever a hand is lost (mean
keypoint score below ``--track-thr``). ``--smooth`` filters keypoints with a One-Euro filter.
Whole-body mode (``--body-config``/``--body-checkpoint``, a COCO or MPII model) draws the body
and takes hand boxes from its wrists and elbows (OpenPose's rule) where the detector has none.
Without a detector a hand is looked for in a centred square (or ``--box``).

A 3D model (``configs/hand3d/``, ``configs/tassn/``) runs offline over the whole video: a clip
model (TASSN) on windows of its clip length, a 3D estimator frame by frame; the hand's box comes
from the detector (best box per frame, else the previous one), ``--box`` or a centred square.
``--out`` then shows the 2D skeleton and a side view of the 3D hand, ``--json-out`` writes one
JSON document with every frame's 2D keypoints (px) and 3D joints (mm, camera frame: root depth
solved, size from the model's bone_length_prior, camera from ``--focal``) and ``--plot3d`` plots
the 3D trajectory of ``--joints`` over time.

Capture runs on its own thread and drawing/writing on another; all hands of a frame go through
the pose network in one batch. The window (when a display exists) and the video show FPS and
per-stage latency. ``--json-out`` writes one JSON line per frame (hands: id, side, box, box
source, keypoints, scores; body when on). ``--benchmark`` prints one JSON object: frames, FPS
and per-stage latency percentiles (ms).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager

from _common import user_errors_exit

import numpy as np
import torch


def parse_args(argv=None, default_source: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pose model config (hand or body)')
    parser.add_argument('checkpoint', help='its checkpoint (.pth), or an exported .onnx file '
                        'with --backend onnxruntime')
    parser.add_argument('--source', default=default_source, required=default_source is None,
                        help='video file, or camera index (0)')
    parser.add_argument('--det-config', help='hand detector config (configs/detector/)')
    parser.add_argument('--det-checkpoint', help='hand detector checkpoint')
    parser.add_argument('--side-config', help='hand-side model config (configs/hand_side/): '
                        'left/right from palm-or-back and the keypoints (runs in torch)')
    parser.add_argument('--side-checkpoint', help='hand-side model checkpoint')
    parser.add_argument('--side-every', type=int, default=3,
                        help='classify each tracked hand every N frames (votes accumulate)')
    parser.add_argument('--body-config', help='body model config for whole-body mode')
    parser.add_argument('--body-checkpoint', help='body model checkpoint')
    parser.add_argument('--backend', choices=['torch', 'onnxruntime'], default='torch')
    parser.add_argument('--max-hands', type=int, default=2)
    parser.add_argument('--detect-every', type=int, default=10,
                        help='run the detector at least every N frames (1: every frame)')
    parser.add_argument('--det-thr', type=float, default=0.3, help='detector score threshold')
    parser.add_argument('--track-thr', type=float, default=0.2,
                        help='mean keypoint score below which a hand is lost (re-detect)')
    parser.add_argument('--score-thr', type=float, default=0.2,
                        help='keypoint score for drawing and for the next box')
    parser.add_argument('--body-thr', type=float, default=0.2,
                        help="body keypoint score for OpenPose's hand boxes (wrist, elbow, "
                        'shoulder all above it)')
    parser.add_argument('--smooth', action='store_true', help='One-Euro keypoint smoothing')
    parser.add_argument('--smooth-min-cutoff', type=float, default=1.0)
    parser.add_argument('--smooth-beta', type=float, default=0.1)
    parser.add_argument('--box', help='start box x1,y1,x2,y2 when there is no detector')
    parser.add_argument('--out', help='write the annotated video here (.mp4 or .avi)')
    parser.add_argument('--json-out', help='write per-frame keypoints here (JSON lines)')
    parser.add_argument('--no-show', action='store_true', help='never open a window')
    parser.add_argument('--max-frames', type=int, default=0)
    parser.add_argument('--benchmark', action='store_true',
                        help='print a JSON of frames, FPS and per-stage latency percentiles')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch / onnxruntime threads (default: as torch sets it)')
    parser.add_argument('--no-fuse', action='store_true',
                        help='keep BatchNorm separate in the torch backend')
    parser.add_argument('--device', default='cpu')
    group = parser.add_argument_group('3D models (a 3D estimator or a clip model such as TASSN)')
    group.add_argument('--plot3d', help='write the 3D trajectory plot of --joints here (PNG)')
    group.add_argument('--joints', default='0,4,8',
                       help='joints whose 3D trajectory is plotted (indices, comma separated)')
    group.add_argument('--focal', type=float, default=None,
                       help="focal length in px of the video's camera (default: the model's "
                       'default_focal); the principal point is the frame centre')
    return parser.parse_args(argv)


TOOL = 'video_demo.py'


class UsageError(ValueError):
    """Arguments that do not go together."""


@contextmanager
def clean_exit(tool: str):
    """poseforge's input errors plus video and deployment errors: one line, exit status 2."""
    from poseforge.deploy import DeployError
    from poseforge.tracking import VideoSourceError
    with user_errors_exit(tool):
        try:
            yield
        except (VideoSourceError, DeployError, UsageError) as err:
            print(f'{tool}: error: {err}', file=sys.stderr)
            sys.exit(2)


def load_models(args: argparse.Namespace):
    """(pose model, frame detector or None, body model or None, side estimator or None), ready
    for inference."""
    from poseforge.apis import init_model
    from poseforge.deploy.fuse import fuse_conv_bn
    from poseforge.tracking import FrameDetector

    def prepare(model):
        if args.backend == 'torch' and not args.no_fuse:
            model = fuse_conv_bn(model, inplace=True)
        return model.to(memory_format=torch.channels_last)

    if bool(args.det_config) != bool(args.det_checkpoint):
        raise UsageError('--det-config and --det-checkpoint go together')
    if bool(args.body_config) != bool(args.body_checkpoint):
        raise UsageError('--body-config and --body-checkpoint go together')
    if bool(args.side_config) != bool(args.side_checkpoint):
        raise UsageError('--side-config and --side-checkpoint go together')
    pose = prepare(init_model(args.config, args.checkpoint, device=args.device,
                              backend=args.backend))
    detector = None
    if args.det_config:
        det_model = init_model(args.det_config, args.det_checkpoint, device=args.device)
        detector = FrameDetector(det_model, backend=args.backend, score_thr=args.det_thr,
                                 max_det=max(2 * args.max_hands, 4),
                                 fuse=not args.no_fuse)
    body = None
    if args.body_config:
        body = prepare(init_model(args.body_config, args.body_checkpoint, device=args.device,
                                  backend=args.backend))
    side = None
    if args.side_config:
        from poseforge.tracking import PalmSideEstimator
        classifier = init_model(args.side_config, args.side_checkpoint, device=args.device)
        if not args.no_fuse:
            classifier = fuse_conv_bn(classifier, inplace=True)
        side = PalmSideEstimator(classifier.to(memory_format=torch.channels_last),
                                 every=args.side_every)
    return pose, detector, body, side


def overlay_lines(fps: float, means: dict[str, float], backend: str) -> list[str]:
    stages = ' '.join(f'{k} {v:.1f}' for k, v in means.items()
                      if k in ('capture', 'body', 'detect', 'pose', 'track', 'draw'))
    return [f'{fps:5.1f} FPS  ({backend})', f'ms: {stages}']


def read_frames(capture, first: np.ndarray, max_frames: int) -> list[np.ndarray]:
    """Every frame of a video file (at most ``max_frames`` when positive), RGB."""
    import cv2
    frames = [cv2.cvtColor(first, cv2.COLOR_BGR2RGB)]
    while not max_frames or len(frames) < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def hand_boxes(frames: list[np.ndarray], detector, start_box: np.ndarray | None) -> list:
    """One box per frame: the detector's best (else the previous box), or ``start_box``, or a
    centred square."""
    from poseforge.tracking.pipeline import centred_box
    h, w = frames[0].shape[:2]
    box = start_box if start_box is not None else centred_box(w, h)
    boxes = []
    for frame in frames:
        if detector is not None:
            found, scores, _ = detector(frame)
            if len(found):
                box = np.asarray(found[int(np.argmax(scores))], np.float32)
        boxes.append(np.asarray(box, np.float32))
    return boxes


def run_3d(args: argparse.Namespace, pose, detector) -> dict:
    """The offline 3D path (module docstring); returns the summary."""
    import cv2

    from poseforge.apis.video3d import (default_camera, draw_frame_3d, model_clip_length,
                                        trajectory_plot, video_json, video_poses_3d)
    from poseforge.tracking import open_source
    if args.body_config:
        raise UsageError('whole-body mode (--body-config) draws 2D models only')
    if not (args.out or args.json_out or args.plot3d):
        raise UsageError('a 3D model writes its results: pass --out VIDEO, --json-out FILE '
                         'and/or --plot3d PNG')
    meta = pose.dataset_meta
    try:
        joints = [int(j) for j in args.joints.split(',') if j.strip()]
    except ValueError:
        raise UsageError(f'--joints must be comma-separated joint indices, got '
                         f'{args.joints!r}') from None
    bad = [j for j in joints if not 0 <= j < meta['num_keypoints']]
    if bad or not joints:
        raise UsageError(f"--joints {bad or args.joints!r}: the model has "
                         f"{meta['num_keypoints']} joints (0..{meta['num_keypoints'] - 1})")
    capture, first, live = open_source(args.source)
    if live:
        raise UsageError('a 3D model runs offline over a video file, not a camera')
    fps = capture.get(5) or 30.0  # cv2.CAP_PROP_FPS
    start = time.perf_counter()
    frames = read_frames(capture, first, args.max_frames)
    start_box = (np.array([float(v) for v in args.box.split(',')], np.float32)
                 if args.box else None)
    boxes = hand_boxes(frames, detector, start_box)
    h, w = frames[0].shape[:2]
    K = default_camera(pose, w, h, args.focal)
    records = video_poses_3d(pose, frames, boxes, K)
    names = meta.get('keypoint_names') or [str(i) for i in range(meta['num_keypoints'])]
    if args.out:
        fourcc = cv2.VideoWriter_fourcc(*('MJPG' if args.out.lower().endswith('.avi')
                                          else 'mp4v'))
        writer = cv2.VideoWriter(args.out, fourcc, fps, (w, h))
        for frame, record in zip(frames, records):
            writer.write(cv2.cvtColor(draw_frame_3d(frame, record, meta, args.score_thr),
                                      cv2.COLOR_RGB2BGR))
        writer.release()
    if args.json_out:
        video_json(records, K, names, fps, args.json_out, type(pose).__name__)
    if args.plot3d:
        trajectory_plot(records, joints, names, args.plot3d, fps)
    wall = time.perf_counter() - start
    return dict(frames=len(frames), seconds=round(wall, 3),
                fps=round(len(frames) / max(wall, 1e-9), 2), mode='3d',
                model=type(pose).__name__, clip_length=model_clip_length(pose),
                detector=bool(detector), backend=args.backend)


def run(args: argparse.Namespace) -> dict:
    """The demo loop; returns the benchmark summary."""
    import cv2

    from poseforge.tracking import (FrameReader, HandTracker, OutputWriter, RealtimePosePipeline,
                                    StageTimer, display_available, open_source)
    if args.threads:
        torch.set_num_threads(args.threads)
    pose, detector, body, side = load_models(args)  # a bad checkpoint is named before the source
    from poseforge.apis.video3d import is_3d_model
    if is_3d_model(pose):
        return run_3d(args, pose, detector)
    capture, first, live = open_source(args.source)
    fps_in = capture.get(5) or 30.0  # cv2.CAP_PROP_FPS
    show = not args.no_show and not args.benchmark and display_available()
    if not (show or args.out or args.json_out or args.benchmark):
        raise UsageError('no display here and nothing to write: pass --out VIDEO and/or '
                         '--json-out FILE (or --benchmark)')
    smoothing = (dict(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta)
                 if args.smooth else None)
    tracker = HandTracker(max_hands=args.max_hands, detect_every=args.detect_every,
                          min_score=args.track_thr, keypoint_thr=args.score_thr,
                          smoothing=smoothing)
    timer = StageTimer()
    start_box = (np.array([float(v) for v in args.box.split(',')], np.float32)
                 if args.box else None)
    try:
        pipeline = RealtimePosePipeline(pose, detector, body, tracker, timer, start_box,
                                        body_thr=args.body_thr, side_estimator=side)
    except ValueError as err:  # e.g. a body model without arms
        raise UsageError(str(err)) from None
    writer = OutputWriter(pose.dataset_meta, pipeline.body_meta, args.score_thr, fps_in, timer,
                          args.out, args.json_out, draw=show)
    pipeline.warmup(cv2.cvtColor(first, cv2.COLOR_BGR2RGB))
    reader = FrameReader(capture, first, live, args.max_frames)
    reader.start()
    writer.start()
    frames, detections, hands = 0, 0, 0
    start = time.perf_counter()
    recent: list[float] = []
    try:
        for index, frame, capture_ms in reader:
            timer.add('capture', capture_ms)
            t0 = time.perf_counter()
            record = pipeline.process(frame, t0 - start, index)
            timer.add('process', (time.perf_counter() - t0) * 1e3)
            frames += 1
            detections += record['detected']
            hands += len(record['instances'])
            now = time.perf_counter()
            recent = (recent + [now])[-30:]
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
            if writer.draw or writer.jsonl_path:
                writer.submit(frame, record, pipeline.to_json(record),
                              overlay_lines(fps, timer.recent_means(), args.backend))
            if show and writer.latest is not None:
                cv2.imshow('poseforge', writer.latest)
                if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                    break
    finally:
        reader.stop()
        writer.close()
    wall = time.perf_counter() - start
    return dict(frames=frames, seconds=round(wall, 3), fps=round(frames / max(wall, 1e-9), 2),
                backend=args.backend, threads=torch.get_num_threads(),
                detector=bool(detector), side_model=bool(side), body=bool(body),
                max_hands=args.max_hands, detect_every=args.detect_every, detector_runs=detections,
                mean_hands=round(hands / max(frames, 1), 3), dropped_frames=reader.dropped,
                latency_ms=timer.summary())


def main(argv=None, tool: str = TOOL, default_source: str | None = None) -> int:
    args = parse_args(argv, default_source)
    with clean_exit(tool):
        summary = run(args)
    if args.benchmark:
        print(json.dumps(summary, indent=2))
    else:
        written = ', '.join(p for p in (args.out, args.json_out, args.plot3d) if p)
        print(f"{summary['frames']} frames, {summary['fps']:.1f} fps ({args.backend})"
              + (f', written to {written}' if written else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
