"""Teacher -> student distillation losses (registered in ``MODELS``), one method per file."""
from poseforge.distillers.kd.losses.amd import AMDLoss, amd_loss, attention_map
from poseforge.distillers.kd.losses.base import KDContext, KDLoss
from poseforge.distillers.kd.losses.feature import FeatureKDLoss
from poseforge.distillers.kd.losses.head_sharing import HeadSharingKDLoss
from poseforge.distillers.kd.losses.heatmap import (HeatmapKDLoss, weighted_heatmap_kl,
                                                    weighted_heatmap_mse)

__all__ = ['AMDLoss', 'amd_loss', 'attention_map', 'KDContext', 'KDLoss', 'FeatureKDLoss',
           'HeadSharingKDLoss', 'HeatmapKDLoss', 'weighted_heatmap_kl', 'weighted_heatmap_mse']
