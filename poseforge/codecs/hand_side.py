"""Hand side (left/right) as *palm winding* x *palm facing*: the decomposition that makes the
side learnable.

Why not classify the side directly: a left hand seen from the palm and a right hand seen from
the back project to the same 2D layout (mirror the scene, then turn the hand round), so no
keypoint geometry and no single appearance cue tells the side alone. It is the exclusive-or of
two cues, each balanced in any varied training set: which way the palm triangle winds in the
image, and whether the palm or the back faces the camera. An exclusive-or gives gradient
descent no first-order signal, and the detector's side output and a separate CNN both stayed at
the chance loss (0.5 ln 2) on generated hands (README, demo section). Split in two, each part
is easy:

* the **winding** is geometry: the sign of the 2D cross product
  ``(index1 - wrist) x (little1 - wrist)`` of the pose network's own keypoints (image axes,
  y down). It is exact: a plane triangle's projected winding flips precisely when its plane
  turns away from the camera, so for a right hand the winding is negative exactly when the
  palm normal ``(index1 - wrist) x (little1 - wrist)`` (3D) points back at the camera
  (``tests/test_hand_side.py`` checks this on generated views against their 3D joints);
* **palm facing** is appearance (nails and knuckles vs palm lines, fingers curling towards or
  away from the camera) and, unlike the side, does not change when the image is mirrored, so
  the classifier learns it with flip augmentation as a plain attribute
  (:class:`~poseforge.models.classifiers.PalmClassifier`).

Then ``left = facing == (winding > 0)``. A palm seen edge-on has a winding near zero and no
reliable side: :func:`left_prob_from_palm` returns NaN there (no vote), relative to the
hand's size. In video each frame's vote is weighted (:func:`side_votes`): measured on
the generated test split through the demo's path, the side is right for 0.76 of the hands
with |winding| >= 0.02, 0.82 from 0.06, and 0.85 where the classifier is sure (|p - 0.5| >=
0.3), so weak votes should count less. Keypoint order: hand21 (wrist 0, index1 5, little1 17).
"""
from __future__ import annotations

import numpy as np

#: hand21 indices of the palm triangle: wrist, index finger base, little finger base.
WRIST, INDEX_BASE, LITTLE_BASE = 0, 5, 17
#: |winding| / (hand extent)^2 below which the palm is taken as edge-on (no side vote).
EDGE_ON_WINDING = 0.02
#: |winding| / (hand extent)^2 from which a vote counts fully (labelled palms: median 0.14).
CLEAR_WINDING = 0.1


def palm_winding(keypoints: np.ndarray) -> np.ndarray:
    """Signed doubled area of the palm triangle (wrist, index1, little1) in image axes.

    Args:
        keypoints: ``(..., K, 2)`` hand21 keypoints, x right, y down.
    Returns:
        ``(...)`` float64; negative for a right hand whose palm faces the camera (and for a
        left hand showing its back), positive for the mirror images.
    """
    kpts = np.asarray(keypoints, np.float64)
    a = kpts[..., INDEX_BASE, :] - kpts[..., WRIST, :]
    b = kpts[..., LITTLE_BASE, :] - kpts[..., WRIST, :]
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def relative_winding(keypoints: np.ndarray) -> np.ndarray:
    """:func:`palm_winding` over the squared extent of the keypoints' box: scale-free, so one
    edge-on threshold (:data:`EDGE_ON_WINDING`) serves every hand size."""
    kpts = np.asarray(keypoints, np.float64)
    extent = (kpts.max(-2) - kpts.min(-2)).max(-1)
    return palm_winding(kpts) / np.maximum(extent, 1e-6) ** 2


def palm_facing_target(keypoints: np.ndarray, is_left: np.ndarray | bool) -> np.ndarray:
    """Whether the palm faces the camera, from 2D keypoints and the known side: the label
    the palm classifier learns, for any data with keypoints and a side (generated hands,
    RHD, CMU Panoptic, COCO-WholeBody's left/right hands). ``(...)`` bool."""
    return (palm_winding(keypoints) > 0) == np.asarray(is_left, bool)


def palm_is_labelled(keypoints_visible: np.ndarray) -> bool:
    """Whether the palm triangle (wrist, index1, little1) is labelled (visibility > 0) in one
    hand's ``(K,)`` flags: what the facing label and the side metric need."""
    visible = np.asarray(keypoints_visible).reshape(-1)
    return len(visible) > LITTLE_BASE and bool((visible[[WRIST, INDEX_BASE, LITTLE_BASE]] > 0)
                                               .all())


def side_votes(keypoints: np.ndarray, palm_prob: np.ndarray, edge_on: float = EDGE_ON_WINDING,
               clear: float = CLEAR_WINDING) -> tuple[np.ndarray, np.ndarray]:
    """Each hand's side vote from its keypoints and the classifier's probability that the palm
    faces the camera: ``(left probability, weight)``, both ``(N,)``, the winding computed once.

    * left probability: ``p`` where the winding is positive, ``1 - p`` where negative; NaN where
      the palm is edge-on (``|relative_winding| < edge_on``), where neither side is supported;
    * weight: the classifier's certainty ``|2 p - 1|`` times the palm's openness to the camera,
      ``min(|relative_winding| / clear, 1)``, in [0, 1] (how much a video frame's vote counts).

    Args:
        keypoints: ``(N, K, 2)`` image (or crop) px.
        palm_prob: ``(N,)`` probability that the palm faces the camera.
    """
    winding = relative_winding(keypoints)
    palm_prob = np.asarray(palm_prob, np.float64)
    left = np.where(winding > 0, palm_prob, 1.0 - palm_prob)
    left = np.where(np.abs(winding) < edge_on, np.nan, left)
    weight = np.abs(2.0 * palm_prob - 1.0) * np.minimum(np.abs(winding) / clear, 1.0)
    return left, weight


def left_prob_from_palm(keypoints: np.ndarray, palm_prob: np.ndarray,
                        edge_on: float = EDGE_ON_WINDING) -> np.ndarray:
    """The left probability of :func:`side_votes` (NaN where the palm is edge-on)."""
    return side_votes(keypoints, palm_prob, edge_on)[0]


def side_vote_weight(keypoints: np.ndarray, palm_prob: np.ndarray,
                     clear: float = CLEAR_WINDING) -> np.ndarray:
    """The vote weight of :func:`side_votes`."""
    return side_votes(keypoints, palm_prob, clear=clear)[1]
