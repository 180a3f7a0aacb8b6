"""Heads (registered in ``MODELS``)."""
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead

__all__ = ['MultiStageHeatmapHead']
