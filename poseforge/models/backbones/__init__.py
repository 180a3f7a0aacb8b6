"""Backbones (registered in ``MODELS``)."""
from poseforge.models.backbones.cpm import ARCH_SETTINGS, CPM, CPMArch
from poseforge.models.backbones.hourglass import StackedHourglass
from poseforge.models.backbones.nsrm import NSRM, NSRMOutput
from poseforge.models.backbones.rmgmn import RMGMN, PairwiseBranch, RotationNet
from poseforge.models.backbones.sia_gcn import SIAGCN, GraphRefinement

__all__ = ['ARCH_SETTINGS', 'CPM', 'CPMArch', 'NSRM', 'NSRMOutput', 'RMGMN', 'PairwiseBranch',
           'RotationNet', 'SIAGCN', 'GraphRefinement', 'StackedHourglass']
