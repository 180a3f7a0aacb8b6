"""Heads (registered in ``MODELS``)."""
from poseforge.models.heads.multi_stage_heatmap_head import MultiStageHeatmapHead
from poseforge.models.heads.nsrm_head import NSRMHead
from poseforge.models.heads.relative_depth_head import RelativeDepthHead
from poseforge.models.heads.rmgmn_head import RMGMNHead

__all__ = ['MultiStageHeatmapHead', 'NSRMHead', 'RMGMNHead', 'RelativeDepthHead']
