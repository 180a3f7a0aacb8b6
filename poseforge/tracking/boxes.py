"""Hand boxes for tracking: from keypoints, and from a body's arms (OpenPose's rule)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: OpenPose's hand-from-body rule (``handDetector.cpp``, ``getHandFromPoseIndexes``): the hand
#: centre lies beyond the wrist by a third of the forearm, and the square's side is 1.5 times
#: the longer of the forearm and 0.9 of the upper arm.
WRIST_EXTENSION = 0.33
ARM_TO_HAND = 1.5
UPPER_ARM_FACTOR = 0.9


def square_box(centre: Sequence[float], side: float) -> np.ndarray:
    cx, cy = centre
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


def box_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, thr: float,
                       pad: float = 1.1, min_keypoints: int = 5) -> np.ndarray | None:
    """A square around the keypoints scoring above ``thr``, ``pad`` times their extent.

    The square keeps the crop's scale steady as fingers curl (the extent's aspect changes, its
    longer side much less). ``None`` when fewer than ``min_keypoints`` are confident. The crop
    pads again by the model's test padding (1.25), as for a detector box.
    """
    good = np.asarray(keypoints)[np.asarray(scores) > thr]
    if len(good) < min_keypoints:
        return None
    lo, hi = good.min(0), good.max(0)
    return square_box((lo + hi) / 2, float((hi - lo).max()) * pad)


def arm_indices(keypoint_names: Sequence[str]) -> dict[int, tuple[int, int, int]]:
    """``{side: (wrist, elbow, shoulder)}`` (1 left, 0 right) of a body layout, by name."""
    names = list(keypoint_names)
    arms = {}
    for side, prefix in ((1, 'left'), (0, 'right')):
        joints = [f'{prefix}_{j}' for j in ('wrist', 'elbow', 'shoulder')]
        if all(j in names for j in joints):
            arms[side] = tuple(names.index(j) for j in joints)
    return arms


def hand_boxes_from_body(keypoints: np.ndarray, scores: np.ndarray,
                         arms: dict[int, tuple[int, int, int]], thr: float = 0.2
                         ) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose's hand boxes of one body: ``(boxes (N, 4), sides (N,))``.

    A side gets a box when its wrist, elbow and shoulder all score above ``thr`` (OpenPose's
    condition): centre ``wrist + 0.33 (wrist - elbow)``, square side
    ``1.5 max(|wrist - elbow|, 0.9 |elbow - shoulder|)``.
    """
    boxes, sides = [], []
    for side, (w, e, s) in arms.items():
        if min(scores[w], scores[e], scores[s]) <= thr:
            continue
        wrist, elbow, shoulder = keypoints[w], keypoints[e], keypoints[s]
        centre = wrist + WRIST_EXTENSION * (wrist - elbow)
        length = ARM_TO_HAND * max(np.linalg.norm(wrist - elbow),
                                   UPPER_ARM_FACTOR * np.linalg.norm(elbow - shoulder))
        if length > 1:
            boxes.append(square_box(centre, float(length)))
            sides.append(side)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(sides, np.int64)
