"""Pose estimators (registered in ``MODELS``)."""
from poseforge.models.estimators.topdown import TopdownPoseEstimator
from poseforge.models.estimators.topdown_3d import Topdown3DPoseEstimator
from poseforge.models.estimators.tassn import TASSN

__all__ = ['TopdownPoseEstimator', 'Topdown3DPoseEstimator']
