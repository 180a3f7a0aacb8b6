"""Pose estimators (registered in ``MODELS``)."""
from poseforge.models.estimators.topdown import TopdownPoseEstimator

__all__ = ['TopdownPoseEstimator']
