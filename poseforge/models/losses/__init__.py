"""Losses (registered in ``MODELS``)."""
from poseforge.models.losses.heatmap_loss import KeypointMSELoss

__all__ = ['KeypointMSELoss']
