"""The hand side of tracked hands: a :class:`~poseforge.models.classifiers.PalmClassifier` on
each hand's crop says whether the palm faces the camera, the pose network's keypoints say which
way the palm triangle winds, and the two give left or right
(:func:`poseforge.codecs.hand_side.left_prob_from_palm`; why in two parts: that module).

The crops are made as the pose crops are (:class:`~poseforge.deploy.predictor.TopdownBatchPredictor`
with the classifier's own test pipeline: its padding and input size), from the box the tracker
derives from this frame's keypoints, which is how the training crops were framed (the keypoints'
box). The tracker keeps a running mean of the votes per track (``HandTracker.vote_side``),
each weighted by the classifier's certainty and how open the palm is to the camera
(:func:`~poseforge.codecs.hand_side.side_votes`), so a few weak frames do not flip a
hand's label.
"""
from __future__ import annotations

import numpy as np
import torch

from poseforge.codecs.hand_side import left_prob_from_palm, side_votes
from poseforge.deploy.predictor import TopdownBatchPredictor


class PalmSideEstimator:
    """``(frame, boxes, keypoints) -> left probability (N,)``, NaN where the palm is edge-on.

    Args:
        classifier: a ``PalmClassifier`` from :func:`poseforge.apis.init_model`.
        every: classify a track on its first frame and then every ``every`` frames (the side
            of a hand does not change; the votes accumulate).
    """

    def __init__(self, classifier: torch.nn.Module, every: int = 3) -> None:
        if every < 1:
            raise ValueError(f'every must be >= 1, got {every}')
        self.classifier = classifier
        self.cropper = TopdownBatchPredictor(classifier)
        self.every = int(every)

    def due(self, age: int) -> bool:
        """Whether a track that has had keypoints on ``age`` frames is classified now."""
        return (age - 1) % self.every == 0

    @torch.no_grad()
    def palm_prob(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Probability that the palm faces the camera, per box of an RGB uint8 frame."""
        crops, _ = self.cropper.crops(frame, np.asarray(boxes, np.float32).reshape(-1, 4))
        inputs = torch.from_numpy(crops).permute(0, 3, 1, 2)  # NHWC memory = channels_last
        inputs = self.classifier.data_preprocessor.normalize(inputs)
        return self.classifier.palm_prob(inputs).cpu().numpy().astype(np.float64)

    def __call__(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray
                 ) -> np.ndarray:
        if len(boxes) == 0:
            return np.zeros(0)
        return left_prob_from_palm(np.asarray(keypoints), self.palm_prob(frame, boxes))

    def votes(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """``(left probability, vote weight)`` per box (:func:`side_votes`)."""
        if len(boxes) == 0:
            return np.zeros(0), np.zeros(0)
        return side_votes(np.asarray(keypoints), self.palm_prob(frame, boxes))
