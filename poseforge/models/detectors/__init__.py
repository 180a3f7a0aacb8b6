"""Detectors (registered in ``MODELS``; the box codec in ``KEYPOINT_CODECS``)."""
from poseforge.models.detectors.center_box_codec import (LEFT, RIGHT, SIDE_NAMES, UNKNOWN_SIDE,
                                                         CenterBoxCodec, box_iou, greedy_nms,
                                                         side_code)
from poseforge.models.detectors.center_hand_detector import (CenterHandDetector,
                                                             map_boxes_to_image)

__all__ = ['CenterBoxCodec', 'CenterHandDetector', 'LEFT', 'RIGHT', 'SIDE_NAMES', 'UNKNOWN_SIDE',
           'box_iou', 'greedy_nms', 'map_boxes_to_image', 'side_code']
