"""Heads (registered in ``MODELS``); NSRM's and R-MGMN's live with their models
(:mod:`poseforge.models.nsrm`, :mod:`poseforge.models.rmgmn`)."""
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead
from poseforge.models.heads.relative_depth_head import RelativeDepthHead

__all__ = ['MultiStageHeatmapHead', 'RelativeDepthHead']
