"""Data preprocessors (registered in ``MODELS``)."""
from poseforge.models.data_preprocessors.pose_data_preprocessor import PoseDataPreprocessor

__all__ = ['PoseDataPreprocessor']
