"""Registered metrics (``METRICS``); importing this module registers them."""
from .box_ap import HandBoxAP
from .coco_metric import CocoMetric
from .hand_side import HandSideAccuracy
from .keypoint_2d_metrics import AUC, EPE, PCKAccuracy
from .keypoint_3d_metrics import Hand3DMetric
from .mpii_pckh import MpiiPCKh
from .nsrm_pck import NSRMPCKAccuracy
from .prediction_dump import DumpPredictions
from .temporal_metrics import TemporalSmoothness

__all__ = ['AUC', 'CocoMetric', 'EPE', 'PCKAccuracy', 'Hand3DMetric', 'MpiiPCKh',
           'NSRMPCKAccuracy', 'DumpPredictions', 'HandBoxAP', 'HandSideAccuracy',
           'TemporalSmoothness']
