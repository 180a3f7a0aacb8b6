"""Backbones (registered in ``MODELS``). Structure families with their own heads and targets
live in their own packages: :mod:`poseforge.models.nsrm`, :mod:`poseforge.models.rmgmn`."""
from poseforge.models.backbones.cpm import ARCH_SETTINGS, CPM, CPMArch
from poseforge.models.backbones.hourglass import StackedHourglass
from poseforge.models.backbones.mobilenet_v2 import MobileNetV2Pose
from poseforge.models.backbones.sia_gcn import SIAGCN, GraphRefinement

__all__ = ['ARCH_SETTINGS', 'CPM', 'CPMArch', 'SIAGCN', 'GraphRefinement', 'StackedHourglass',
           'MobileNetV2Pose']
