"""Crop classifiers (registered in ``MODELS``): attributes of a hand that are not keypoints."""
from poseforge.models.classifiers.palm_classifier import PalmClassifier

__all__ = ['PalmClassifier']
