"""Data preprocessors (registered in ``MODELS``)."""
from poseforge.models.data_preprocessors.pose_data_preprocessor import (PoseDataPreprocessor,
                                                                       build_pose_preprocessor)
from poseforge.models.data_preprocessors.clip_data_preprocessor import ClipDataPreprocessor

__all__ = ['ClipDataPreprocessor', 'PoseDataPreprocessor', 'build_pose_preprocessor']
