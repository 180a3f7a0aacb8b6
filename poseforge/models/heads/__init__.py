"""Heads (registered in ``MODELS``); NSRM's and R-MGMN's live with their models
(:mod:`poseforge.models.nsrm`, :mod:`poseforge.models.rmgmn`)."""
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead

__all__ = ['MultiStageHeatmapHead']
