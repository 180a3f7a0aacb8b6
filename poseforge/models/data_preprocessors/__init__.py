"""Data preprocessors (registered in ``MODELS``)."""
from poseforge.models.data_preprocessors.pose_data_preprocessor import PoseDataPreprocessor
from poseforge.models.data_preprocessors.clip_data_preprocessor import ClipDataPreprocessor

__all__ = ['ClipDataPreprocessor', 'PoseDataPreprocessor']
