"""Evaluation: metric functions (:mod:`.functional`) and registered metrics (:mod:`.metrics`)."""
from . import functional, metrics
from .functional import (keypoint_auc, keypoint_epe, keypoint_nme, keypoint_pck_accuracy,
                         pck_curve)
from .metrics import AUC, EPE, PCKAccuracy

__all__ = [
    'functional', 'metrics', 'keypoint_auc', 'keypoint_epe', 'keypoint_nme',
    'keypoint_pck_accuracy', 'pck_curve', 'AUC', 'EPE', 'PCKAccuracy'
]
