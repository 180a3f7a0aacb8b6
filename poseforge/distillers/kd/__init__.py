"""Offline teacher -> student distillation (:class:`KDDistiller`), its losses, mixup KD, and
KD tickets (iterative magnitude pruning of the student retrained on the teacher)."""
from poseforge.distillers.kd import geometry, losses, mixup, pruning, schedules
from poseforge.distillers.kd.distiller import KDDistiller
from poseforge.distillers.kd.losses import (AMDLoss, FeatureKDLoss, HeadSharingKDLoss,
                                            HeatmapKDLoss, KDContext, KDLoss)
from poseforge.distillers.kd.mixup import MixupKD
from poseforge.distillers.kd.pruning import KDTicketPruningHook
from poseforge.distillers.kd.schedules import WeightSchedule

__all__ = ['geometry', 'losses', 'mixup', 'pruning', 'schedules', 'KDDistiller', 'AMDLoss',
           'FeatureKDLoss', 'HeadSharingKDLoss', 'HeatmapKDLoss', 'KDContext', 'KDLoss',
           'MixupKD', 'KDTicketPruningHook', 'WeightSchedule']
