"""Real-time tracking for the demos: hand detection on frames, IoU tracking with boxes from the
last keypoints, One-Euro smoothing, OpenPose's hand boxes from a body, the per-frame pipeline
with stage timing, the hand side from a palm classifier, and threaded video input/output."""
from poseforge.tracking.boxes import (arm_indices, box_from_keypoints, hand_boxes_from_body,
                                      square_box)
from poseforge.tracking.detector import FrameDetector
from poseforge.tracking.one_euro import OneEuroFilter
from poseforge.tracking.pipeline import RealtimePosePipeline, centred_box
from poseforge.tracking.side import PalmSideEstimator
from poseforge.tracking.timing import StageTimer
from poseforge.tracking.tracker import HandTracker, Track
from poseforge.tracking.video import (FrameReader, OutputWriter, VideoSourceError,
                                      display_available, draw_frame, open_source, parse_source)

__all__ = ['FrameDetector', 'FrameReader', 'HandTracker', 'OneEuroFilter', 'OutputWriter',
           'PalmSideEstimator', 'RealtimePosePipeline', 'StageTimer', 'Track',
           'VideoSourceError', 'arm_indices',
           'box_from_keypoints', 'centred_box', 'display_available', 'draw_frame',
           'hand_boxes_from_body', 'open_source', 'parse_source', 'square_box']
