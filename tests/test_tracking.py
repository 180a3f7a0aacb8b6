"""Tracking on a synthetic video: boxes follow a moving generated hand, a hand that leaves is
found again when it returns, One-Euro smoothing lowers jitter with a bounded lag, OpenPose's
hand boxes from a body.

The video is made here (a generated hand cut out with its mask, moving over a background). The
networks are replaced by stand-ins that *measure the frame*: the "detector" boxes what differs
from the background, the "pose model" returns points of the hand's silhouette inside each crop
(nothing when the crop holds no hand). So what is tested is the tracking loop itself, crop to
crop, independent of how well a network is trained."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from poseforge.codecs.center_box import box_iou
from poseforge.generation.composite import cut_out_hand, moving_hands_video
from poseforge.skeletons import HAND21
from poseforge.tracking import (HandTracker, OneEuroFilter, RealtimePosePipeline, arm_indices,
                                hand_boxes_from_body)
from poseforge.skeletons import COCO17

SIZE = (160, 120)


def _silhouette(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    return (np.abs(frame.astype(np.int16) - background.astype(np.int16)).sum(-1) > 40)


class SilhouetteDetector:
    """Boxes of the blobs that differ from the known background."""

    def __init__(self, background: np.ndarray) -> None:
        self.background, self.calls = background, 0

    def __call__(self, frame):
        self.calls += 1
        mask = _silhouette(frame, self.background).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [[x, y, x + w, y + h] for x, y, w, h, area in stats[1:] if area >= 30]
        boxes = np.array(boxes, np.float32).reshape(-1, 4)
        return boxes, np.full(len(boxes), 0.9, np.float32), np.full(len(boxes), 0.2, np.float32)


class SilhouettePose:
    """21 points of the hand silhouette inside each crop (the crop pads the box by 1.25 as the
    pose models' test pipeline does): its four extremes and 17 pixels in raster order."""

    dataset_meta = HAND21.metainfo()

    def __init__(self, background: np.ndarray, noise: float = 0.0, seed: int = 0) -> None:
        self.background, self.noise = background, noise
        self.rng = np.random.default_rng(seed)

    def __call__(self, frame, boxes):
        mask = _silhouette(frame, self.background)
        kpts = np.zeros((len(boxes), 21, 2), np.float32)
        scores = np.zeros((len(boxes), 21), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes)):
            cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 1.25 * max(x2 - x1, y2 - y1) / 2
            crop = np.zeros_like(mask)
            ys, xs = slice(max(int(cy - half), 0), max(int(cy + half), 0)), \
                slice(max(int(cx - half), 0), max(int(cx + half), 0))
            crop[ys, xs] = mask[ys, xs]
            py, px = np.nonzero(crop)
            if len(px) < 20:
                continue
            pick = [px.argmin(), px.argmax(), py.argmin(), py.argmax()]
            pick += np.linspace(0, len(px) - 1, 17).astype(int).tolist()
            kpts[i] = np.stack([px[pick], py[pick]], 1)
            scores[i] = 0.9
        if self.noise:
            kpts += self.rng.normal(0, self.noise, kpts.shape).astype(np.float32)
        return dict(keypoints=kpts, keypoint_scores=scores)


@pytest.fixture(scope='module')
def hand_video(tiny_synth):
    """40 frames: the hand moves right 3 px/frame, leaves the frame (frames 20-27), returns."""
    ann = json.loads((tiny_synth / 'annotations' / 'test.json').read_text())
    image = ann['images'][0]
    rgb = cv2.imread(str(tiny_synth / 'images' / 'test' / image['file_name']))
    mask = cv2.imread(str(tiny_synth / 'masks' / 'test' / image['mask_file']),
                      cv2.IMREAD_GRAYSCALE)
    cutout = cut_out_hand(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), mask, 0)
    centres = np.full((40, 1, 2), np.nan)
    t = np.arange(20)
    centres[:20, 0] = np.stack([30 + 3 * t, 60 + 0 * t], 1)
    centres[28:, 0] = np.stack([40 + 3 * np.arange(12), np.full(12, 55)], 1)
    background = np.full((SIZE[1], SIZE[0], 3), 30, np.uint8)
    frames, boxes = moving_hands_video([cutout], centres, 44.0, SIZE, background=background)
    return frames, boxes[:, 0], background


def _run(pipeline, frames):
    return [pipeline.process(f, i / 30.0, i) for i, f in enumerate(frames)]


def test_box_follows_the_hand_and_finds_it_again_after_it_returns(hand_video):
    frames, truth, background = hand_video
    detector = SilhouetteDetector(background)
    tracker = HandTracker(max_hands=2, detect_every=10)
    records = _run(RealtimePosePipeline(SilhouettePose(background), detector, tracker=tracker),
                   frames)
    visible = ~np.isnan(truth[:, 0])
    for i, rec in enumerate(records):
        if not visible[i]:
            continue
        assert len(rec['instances']) == 1, (i, rec['instances'])
        kpts = rec['instances'][0]['keypoints']
        measured = np.concatenate([kpts.min(0), kpts.max(0)])
        assert box_iou(measured[None], truth[i:i + 1])[0, 0] > 0.8, i
        crop = rec['instances'][0]['box']                       # the box the crop used
        assert np.abs((crop[:2] + crop[2:]) / 2 - (truth[i, :2] + truth[i, 2:]) / 2).max() < 8
    # gone while out of the frame (the last frames of its exit may still show a sliver)
    assert all(not records[i]['instances'] for i in range(21, 28))
    # found again on the first frame it is back, by the detector
    assert records[28]['detected'] and len(records[28]['instances']) == 1
    # tracking, not detection, carried most frames
    assert detector.calls < 0.5 * len(frames)
    assert records[1]['instances'][0]['box_source'] == 'tracking'


def test_one_euro_smoothing_lowers_jitter_with_bounded_lag():
    """A still hand: frame-to-frame jitter drops at least 2.5x. A hand moving 3 px/frame at
    30 FPS: the smoothed keypoints trail the truth by at most 1.5 px (half a frame's motion)
    and the jitter still drops."""
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 100, (21, 2))
    t = np.arange(90) / 30.0

    def track(velocity: float, smoothing):
        tracker = HandTracker(max_hands=1, smoothing=smoothing)
        truth, out = [], []
        for i, ts in enumerate(t):
            kpts = base + [velocity * i, 0]
            if not tracker.tracks:
                tracker.add_detections(np.array([[0, 0, 200, 200]]), np.ones(1))
            tracker.update((kpts + rng.normal(0, 1.5, kpts.shape))[None], np.ones((1, 21)), ts)
            truth.append(kpts)
            out.append(tracker.tracks[0].keypoints)
        return np.array(truth)[30:], np.array(out)[30:]  # after the filter settles

    def jitter(x):  # frame-to-frame noise: spread of the second difference
        return float(np.diff(x, 2, axis=0).std())

    smooth = dict(min_cutoff=1.0, beta=0.1)
    _, raw_still = track(0.0, None)
    _, smooth_still = track(0.0, smooth)
    assert jitter(smooth_still) < jitter(raw_still) / 2.5
    truth, raw_moving = track(3.0, None)
    truth, smooth_moving = track(3.0, smooth)
    lag = float(np.mean(truth[..., 0] - smooth_moving[..., 0]))
    assert 0 <= lag <= 1.5, lag
    assert jitter(smooth_moving) < jitter(raw_moving)


def test_one_euro_passes_a_constant_and_resets():
    f = OneEuroFilter()
    for i in range(5):
        np.testing.assert_allclose(f(np.full(3, 7.0), i / 30), 7.0)
    f.reset()
    np.testing.assert_allclose(f(np.full(3, 1.0), 10.0), 1.0)  # the first sample passes


def test_hand_boxes_from_a_body_follow_openpose():
    names = COCO17.keypoint_names
    arms = arm_indices(names)
    assert arms == {1: (9, 7, 5), 0: (10, 8, 6)}
    kpts = np.zeros((17, 2), np.float32)
    scores = np.ones(17, np.float32)
    kpts[5], kpts[7], kpts[9] = (100, 100), (100, 160), (100, 200)   # left arm hanging down
    kpts[6], kpts[8], kpts[10] = (200, 100), (200, 150), (200, 190)
    scores[8] = 0.1                                                   # right elbow unsure
    boxes, sides = hand_boxes_from_body(kpts, scores, arms, thr=0.2)
    assert sides.tolist() == [1]
    centre = np.array([100, 200 + 0.33 * 40])
    side = 1.5 * max(40, 0.9 * 60)
    np.testing.assert_allclose(boxes[0], [*(centre - side / 2), *(centre + side / 2)],
                               atol=1e-4)
