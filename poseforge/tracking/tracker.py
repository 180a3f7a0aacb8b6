"""Hand tracking between detections: boxes from the last keypoints, IoU matching, re-detection.

The loop of MediaPipe Hands and rtmlib, in poseforge terms:

1. Each tracked hand's box for this frame is the square around its *previous* keypoints
   (:func:`~poseforge.tracking.boxes.box_from_keypoints`): a moving hand stays in its crop as
   long as it moves less than the crop's margin per frame, with no detector run.
2. The detector runs when :meth:`HandTracker.needs_detection` says so: nothing tracked, a
   track's confidence (mean keypoint score) fell below ``min_score``, or ``detect_every``
   frames passed (new hands enter; ``detect_every=1`` detects every frame).
3. Detections are matched to tracks by IoU (Hungarian assignment, ``scipy``): a matched track
   keeps its identity and takes the detector's side vote; the detector's box replaces the
   keypoint box only where the two disagree (IoU below ``reset_iou``), i.e. the track drifted,
   since the keypoint box is tighter and steadier than a detector box. Unmatched detections
   start tracks, best first, up to ``max_hands``.
4. After the pose network, a track whose confidence is below ``min_score`` is dropped (the
   next frame then re-detects), and of two tracks that collapsed onto one hand (IoU above
   ``duplicate_iou``) the weaker goes.

Keypoints are optionally smoothed with a :class:`~poseforge.tracking.one_euro.OneEuroFilter`
per track (``smoothing``); boxes come from the raw keypoints, so smoothing never delays the
crop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from poseforge.codecs.center_box import box_iou
from poseforge.tracking.boxes import box_from_keypoints
from poseforge.tracking.one_euro import OneEuroFilter


@dataclass
class Track:
    """One tracked hand."""

    id: int
    box: np.ndarray                      # the box the next pose crop uses (image px)
    left_prob: float = 0.5               # running estimate that it is a left hand
    source: str = 'detector'             # where ``box`` came from: detector, tracking, body
    keypoints: np.ndarray | None = None  # (K, 2) smoothed when smoothing is on
    raw_keypoints: np.ndarray | None = None
    scores: np.ndarray | None = None
    score: float = 1.0                   # mean keypoint score of the last frame
    age: int = 0                         # frames with keypoints
    side_votes: int = 0
    side_weight: float = 0.0             # decayed sum of the vote weights
    filter: OneEuroFilter | None = field(default=None, repr=False)

    @property
    def side(self) -> str:
        if self.side_votes == 0:
            return 'unknown'
        return 'left' if self.left_prob >= 0.5 else 'right'


class HandTracker:
    """Up to ``max_hands`` tracks, fed by detections and by the pose network (module doc).

    Args:
        max_hands: most hands tracked at once.
        detect_every: run the detector at least every N frames (1 = every frame).
        min_score: mean keypoint score below which a track counts as lost. It must sit
            between the pose model's scores on hands and on background: for the quick-start
            CPM (7 epochs) the mean score is 0.28-0.43 on hand crops (5th-75th percentile)
            and at most 0.11 on background crops (99th percentile).
        keypoint_thr: keypoint score above which a keypoint shapes the next box.
        box_pad: next box = this times the confident keypoints' extent (a square).
        match_iou: least IoU for a detection to match a track.
        reset_iou: below this IoU a matched detection's box replaces the track's.
        duplicate_iou: above this IoU two tracks are one hand.
        smoothing: ``None`` (off) or One-Euro settings (``min_cutoff``, ``beta``,
            ``d_cutoff``).
    """

    #: Each earlier side vote counts this much less per new vote (about the last 10 count).
    SIDE_VOTE_DECAY = 0.9

    def __init__(self, max_hands: int = 2, detect_every: int = 10, min_score: float = 0.2,
                 keypoint_thr: float = 0.2, box_pad: float = 1.1, match_iou: float = 0.2,
                 reset_iou: float = 0.4, duplicate_iou: float = 0.5,
                 smoothing: dict | None = None) -> None:
        if max_hands < 1 or detect_every < 1:
            raise ValueError('max_hands and detect_every must be at least 1')
        self.max_hands = int(max_hands)
        self.detect_every = int(detect_every)
        self.min_score = float(min_score)
        self.keypoint_thr = float(keypoint_thr)
        self.box_pad = float(box_pad)
        self.match_iou = float(match_iou)
        self.reset_iou = float(reset_iou)
        self.duplicate_iou = float(duplicate_iou)
        self.smoothing = None if smoothing is None else dict(smoothing)
        self.tracks: list[Track] = []
        self._next_id = 0
        self._since_detection = 0
        self._lost = False

    # ------------------------------------------------------------------ detection
    def needs_detection(self) -> bool:
        """Nothing tracked, a hand lost last frame, or ``detect_every`` frames since the last
        detection."""
        return (not self.tracks or self._lost
                or self._since_detection + 1 >= self.detect_every)

    def add_detections(self, boxes: np.ndarray, scores: np.ndarray,
                       left_prob: np.ndarray | None = None, source: str = 'detector') -> None:
        """Match detections (image px) to the tracks; start tracks from the unmatched ones."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        left_prob = (np.full(len(boxes), np.nan, np.float32) if left_prob is None
                     else np.asarray(left_prob, np.float32).reshape(-1))
        if source == 'detector':
            self._since_detection = 0
            self._lost = False
        matched_dets: set[int] = set()
        if self.tracks and len(boxes):
            iou = box_iou(np.stack([t.box for t in self.tracks]), boxes)
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] < self.match_iou:
                    continue
                matched_dets.add(int(c))
                track = self.tracks[r]
                if iou[r, c] < self.reset_iou or track.keypoints is None:
                    track.box, track.source = boxes[c].copy(), source
                self.vote_side(track, left_prob[c])
        for c in np.argsort(-scores):
            if len(self.tracks) >= self.max_hands:
                break
            if int(c) in matched_dets:
                continue
            if self.tracks and box_iou(np.stack([t.box for t in self.tracks]),
                                       boxes[c:c + 1]).max() >= self.match_iou:
                continue  # overlaps a track it was not assigned to: the same hand
            track = Track(id=self._next_id, box=boxes[c].copy(), source=source)
            self._next_id += 1
            self.vote_side(track, left_prob[c])
            self.tracks.append(track)

    @classmethod
    def vote_side(cls, track: Track, left_prob: float, weight: float = 1.0) -> None:
        """Weighted running mean of the side probabilities seen (a side is a property of the
        hand), older votes decayed by :data:`SIDE_VOTE_DECAY`; a NaN vote or a zero weight is
        no vote. The first vote sets the estimate."""
        if np.isfinite(left_prob) and weight > 0:
            track.side_votes += 1
            track.side_weight = cls.SIDE_VOTE_DECAY * track.side_weight + float(weight)
            track.left_prob += (float(left_prob) - track.left_prob) * float(weight) \
                / track.side_weight

    # ------------------------------------------------------------------ keypoints
    def boxes(self) -> np.ndarray:
        """The boxes the pose network crops this frame, ``(N, 4)`` in track order."""
        return np.array([t.box for t in self.tracks], np.float32).reshape(-1, 4)

    def update(self, keypoints: np.ndarray, scores: np.ndarray, timestamp: float) -> None:
        """Feed the pose network's output for :meth:`boxes` (same order); advance one frame."""
        kept: list[Track] = []
        for track, kpts, kscores in zip(self.tracks, keypoints, scores):
            track.score = float(np.mean(kscores))
            if track.score < self.min_score:
                self._lost = True
                continue
            track.raw_keypoints, track.scores = kpts.copy(), kscores.copy()
            track.keypoints = self._smooth(track, kpts, timestamp)
            track.age += 1
            box = box_from_keypoints(kpts, kscores, self.keypoint_thr, self.box_pad)
            if box is None:
                self._lost = True
                continue
            track.box, track.source = box, 'tracking'
            kept.append(track)
        self.tracks = self._without_duplicates(kept)
        self._since_detection += 1

    def _smooth(self, track: Track, keypoints: np.ndarray, timestamp: float) -> np.ndarray:
        if self.smoothing is None:
            return keypoints.copy()
        if track.filter is None:
            track.filter = OneEuroFilter(**self.smoothing)
        return track.filter(keypoints, timestamp).astype(np.float32)

    def _without_duplicates(self, tracks: list[Track]) -> list[Track]:
        keep: list[Track] = []
        for track in sorted(tracks, key=lambda t: -t.score):
            if keep and box_iou(np.stack([k.box for k in keep]),
                                track.box[None]).max() > self.duplicate_iou:
                continue
            keep.append(track)
        return sorted(keep, key=lambda t: t.id)

    def reset(self) -> None:
        self.tracks, self._since_detection, self._lost = [], 0, False
