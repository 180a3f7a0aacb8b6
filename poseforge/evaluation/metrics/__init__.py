"""Registered metrics (``METRICS``); importing this module registers them."""
from .keypoint_2d_metrics import AUC, EPE, PCKAccuracy
from .keypoint_3d_metrics import Hand3DMetric
from .prediction_dump import DumpPredictions

__all__ = ['AUC', 'EPE', 'PCKAccuracy', 'Hand3DMetric', 'DumpPredictions']
