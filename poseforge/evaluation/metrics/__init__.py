"""Registered metrics (``METRICS``); importing this module registers them."""
from .keypoint_2d_metrics import AUC, EPE, PCKAccuracy
from .prediction_dump import DumpPredictions

__all__ = ['AUC', 'EPE', 'PCKAccuracy', 'DumpPredictions']
