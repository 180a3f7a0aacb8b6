"""Detectors (registered in ``MODELS``; their box codec is :mod:`poseforge.codecs.center_box`)."""
from poseforge.models.detectors.center_hand_detector import (CenterHandDetector,
                                                             map_boxes_to_image)

__all__ = ['CenterHandDetector', 'map_boxes_to_image']
