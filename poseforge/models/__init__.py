"""Models: importing this package registers every backbone, head, loss, preprocessor and
estimator in ``poseforge.registry.MODELS`` (and NSRM's limb-weight hook in ``HOOKS``).

Layout: generic parts by kind (``backbones/``, ``heads/``, ``losses/``, ``estimators/``,
``data_preprocessors/``); a structure family with its own targets and head in one package
(``nsrm/``, ``rmgmn/``)."""
from poseforge.models import (backbones, classifiers, data_preprocessors, detectors, dggan,
                              estimators, heads, losses, nsrm, rmgmn)
from poseforge.models.backbones import CPM, SIAGCN
from poseforge.models.data_preprocessors import PoseDataPreprocessor
from poseforge.models.estimators import TopdownPoseEstimator
from poseforge.models.heads import MultiStageHeatmapHead
from poseforge.models.losses import KeypointMSELoss
from poseforge.models.nsrm import NSRM, NSRMHead
from poseforge.models.rmgmn import RMGMN, RMGMNHead

__all__ = ['backbones', 'classifiers', 'data_preprocessors', 'detectors', 'dggan', 'estimators',
           'heads', 'losses', 'nsrm', 'rmgmn', 'CPM', 'NSRM', 'RMGMN', 'SIAGCN',
           'PoseDataPreprocessor', 'TopdownPoseEstimator', 'MultiStageHeatmapHead', 'NSRMHead',
           'RMGMNHead', 'KeypointMSELoss']
