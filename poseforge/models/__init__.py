"""Models: importing this package registers every backbone, head, loss, preprocessor and
estimator in ``poseforge.registry.MODELS``."""
from poseforge.models import backbones, data_preprocessors, estimators, graph, heads, losses
from poseforge.models import dggan  # noqa: F401  (DGGAN and its networks)
from poseforge.models.backbones import CPM, NSRM
from poseforge.models.data_preprocessors import PoseDataPreprocessor
from poseforge.models.estimators import TopdownPoseEstimator
from poseforge.models.heads import MultiStageHeatmapHead, NSRMHead
from poseforge.models.losses import KeypointMSELoss

__all__ = ['backbones', 'data_preprocessors', 'estimators', 'heads', 'losses', 'CPM', 'NSRM',
           'PoseDataPreprocessor', 'TopdownPoseEstimator', 'MultiStageHeatmapHead', 'NSRMHead',
           'KeypointMSELoss']
