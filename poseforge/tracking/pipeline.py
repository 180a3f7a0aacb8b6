"""The per-frame loop of the real-time demo: detect (when due), track, batch the crops, smooth.

One :meth:`RealtimePosePipeline.process` call per frame:

1. whole-body mode: the body model runs on the person's box (the previous frame's body
   keypoints, or the whole frame) and gives each arm's hand box by OpenPose's rule;
2. the hand detector runs when the tracker asks for it (:meth:`HandTracker.needs_detection`);
   its boxes go to the tracker first, then the body's hand boxes, which only start tracks
   where no detector box (or track) already is;
3. every tracked hand's crop goes through the pose network in **one** batch;
4. the tracker takes the keypoints (new boxes for the next frame, One-Euro smoothing, losses);
5. with a side model (:class:`~poseforge.tracking.side.PalmSideEstimator`), the hands due for
   it are classified palm / back in one batch, and each track votes left or right with its
   keypoints' winding. The detector's own side output is then not used (it stays at chance on
   generated hands; README), the body's arm sides are.

A pose model that is not a hand model (a body model as the main model) is tracked the same way
as a single instance whose "detection" is the whole frame. Stage latencies go to a
:class:`~poseforge.tracking.timing.StageTimer`: ``body``, ``detect``, ``pose``, ``track``,
``side``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from poseforge.deploy.predictor import TopdownBatchPredictor
from poseforge.tracking.boxes import arm_indices, box_from_keypoints, hand_boxes_from_body
from poseforge.tracking.detector import FrameDetector
from poseforge.tracking.side import PalmSideEstimator
from poseforge.tracking.timing import StageTimer
from poseforge.tracking.tracker import HandTracker


def centred_box(width: int, height: int, frac: float = 0.6) -> np.ndarray:
    """A centred square of ``frac`` of the frame height (where to hold a hand without a
    detector)."""
    side = frac * height
    return np.array([width / 2 - side / 2, height / 2 - side / 2, width / 2 + side / 2,
                     height / 2 + side / 2], np.float32)


def _round(array: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(array, np.float64), digits).tolist()


class RealtimePosePipeline:
    """Detection + tracking + batched top-down pose for a stream of frames (module doc).

    Args:
        pose_model: top-down estimator (either backend) from ``init_model``, or any predictor
            ``(frame, boxes) -> dict(keypoints, keypoint_scores)`` with a ``dataset_meta``.
        detector: a :class:`FrameDetector` (or any ``frame -> (boxes, scores, left_prob)``),
            or ``None`` (a fixed start box instead).
        body_model: optional body estimator (COCO / MPII layouts) for whole-body mode.
        tracker: a :class:`HandTracker` (default: 2 hands, re-detect every 10 frames).
        timer: where stage latencies go.
        initial_box: start box without a detector (default: centred square for hands, the
            whole frame for other models).
        body_thr: keypoint score for OpenPose's arm rule and the body's next box.
        side_estimator: optional :class:`PalmSideEstimator` (hand models only): the hand side
            from the palm classifier and the keypoints instead of the detector's side output.
    """

    def __init__(self, pose_model: torch.nn.Module, detector: FrameDetector | None = None,
                 body_model: torch.nn.Module | None = None, tracker: HandTracker | None = None,
                 timer: StageTimer | None = None, initial_box: np.ndarray | None = None,
                 body_thr: float = 0.2, side_estimator: PalmSideEstimator | None = None
                 ) -> None:
        self.predictor = (TopdownBatchPredictor(pose_model)
                          if isinstance(pose_model, torch.nn.Module) else pose_model)
        meta = pose_model.dataset_meta or {}
        self.meta = meta
        self.is_hand = meta.get('skeleton', 'hand21') == 'hand21'
        self.detector = detector if self.is_hand else None
        self.tracker = tracker or HandTracker()
        if not self.is_hand:
            self.tracker.max_hands = 1
        self.timer = timer or StageTimer()
        self.initial_box = initial_box
        self.body_thr = float(body_thr)
        self.body_predictor = (None if body_model is None else
                               TopdownBatchPredictor(body_model)
                               if isinstance(body_model, torch.nn.Module) else body_model)
        self.body_meta = body_model.dataset_meta if body_model is not None else None
        self.arms = arm_indices(self.body_meta['keypoint_names']) if self.body_meta else {}
        if body_model is not None and not self.arms:
            raise ValueError('whole-body mode needs a body model whose keypoints name '
                             'left/right wrists, elbows and shoulders (COCO or MPII layouts)')
        self._body_box: np.ndarray | None = None
        self.side_estimator = side_estimator if self.is_hand else None

    # ------------------------------------------------------------------ stages
    def _body(self, frame: np.ndarray) -> dict:
        h, w = frame.shape[:2]
        box = self._body_box if self._body_box is not None else \
            np.array([0, 0, w, h], np.float32)
        out = self.body_predictor(frame, box[None])
        kpts, scores = out['keypoints'][0], out['keypoint_scores'][0]
        self._body_box = box_from_keypoints(kpts, scores, self.body_thr, pad=1.2,
                                            min_keypoints=4)
        hand_boxes, sides = hand_boxes_from_body(kpts, scores, self.arms, self.body_thr)
        return dict(box=box, keypoints=kpts, keypoint_scores=scores, hand_boxes=hand_boxes,
                    hand_sides=sides)

    def _start_box(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self.initial_box is not None:
            return np.asarray(self.initial_box, np.float32)
        return centred_box(w, h) if self.is_hand else np.array([0, 0, w, h], np.float32)

    def warmup(self, frame: np.ndarray) -> None:
        """Run every network once on ``frame`` without touching the tracks: first calls
        allocate, and the onnxruntime backend exports and builds its sessions, which a
        benchmark should not count as frame time."""
        h, w = frame.shape[:2]
        box = np.array([[0, 0, w, h]], np.float32)
        self.predictor(frame, np.repeat(box, self.tracker.max_hands, 0))
        if self.body_predictor is not None:
            self.body_predictor(frame, box)
        if self.detector is not None:
            self.detector(frame)
        if self.side_estimator is not None:
            self.side_estimator.palm_prob(frame, np.repeat(box, self.tracker.max_hands, 0))

    def _vote_sides(self, frame: np.ndarray) -> None:
        """Classify the tracks due for it (one batch) and add their side votes."""
        due = [t for t in self.tracker.tracks
               if t.raw_keypoints is not None and self.side_estimator.due(t.age)]
        if not due:
            return
        with self.timer.stage('side'):
            left, weight = self.side_estimator.votes(frame, np.stack([t.box for t in due]),
                                                     np.stack([t.raw_keypoints for t in due]))
            for track, prob, w in zip(due, left, weight):
                HandTracker.vote_side(track, prob, w)

    # ------------------------------------------------------------------ one frame
    def process(self, frame: np.ndarray, timestamp: float, index: int = 0) -> dict[str, Any]:
        """Run one RGB frame; returns the frame record (:meth:`to_json` makes it json)."""
        body = None
        if self.body_predictor is not None:
            with self.timer.stage('body'):
                body = self._body(frame)
        detected = False
        if self.tracker.needs_detection():
            with self.timer.stage('detect'):
                if self.detector is not None:
                    boxes, scores, left = self.detector(frame)
                    self.tracker.add_detections(
                        boxes, scores, None if self.side_estimator is not None else left)
                    detected = True
                elif body is None:
                    self.tracker.add_detections(self._start_box(frame)[None], np.ones(1),
                                                None, source='start')
        if body is not None and len(body['hand_boxes']):
            self.tracker.add_detections(body['hand_boxes'], np.full(len(body['hand_boxes']), 0.5),
                                        body['hand_sides'].astype(np.float32), source='body')
        with self.timer.stage('pose'):
            boxes = self.tracker.boxes()
            sources = [t.source for t in self.tracker.tracks]
            out = self.predictor(frame, boxes)
        with self.timer.stage('track'):
            tracks_before = list(self.tracker.tracks)
            self.tracker.update(out['keypoints'], out['keypoint_scores'], timestamp)
        if self.side_estimator is not None:
            self._vote_sides(frame)
        alive = {id(t) for t in self.tracker.tracks}
        instances = []
        for track, box, source in zip(tracks_before, boxes, sources):
            if id(track) not in alive:
                continue
            instances.append(dict(id=track.id, side=track.side if self.is_hand else None,
                                  left_prob=track.left_prob, box=box, box_source=source,
                                  score=track.score, keypoints=track.keypoints,
                                  keypoint_scores=track.scores))
        return dict(frame=index, time=timestamp, detected=detected, instances=instances,
                    body=body)

    @staticmethod
    def to_json(record: dict[str, Any]) -> dict[str, Any]:
        """The frame record as plain json types (px to 0.01, scores to 1e-4)."""
        out = dict(frame=int(record['frame']), time=round(float(record['time']), 4),
                   detected=bool(record['detected']), hands=[])
        for inst in record['instances']:
            out['hands'].append(dict(
                id=int(inst['id']), side=inst['side'],
                left_prob=round(float(inst['left_prob']), 4), box=_round(inst['box'], 2),
                box_source=inst['box_source'], score=round(float(inst['score']), 4),
                keypoints=_round(inst['keypoints'], 2),
                keypoint_scores=_round(inst['keypoint_scores'], 4)))
        body = record.get('body')
        if body is not None:
            out['body'] = dict(box=_round(body['box'], 2), keypoints=_round(body['keypoints'], 2),
                               keypoint_scores=_round(body['keypoint_scores'], 4),
                               hand_boxes=_round(body['hand_boxes'], 2),
                               hand_sides=['left' if s == 1 else 'right'
                                           for s in body['hand_sides']])
        return out
