"""Backbones (registered in ``MODELS``). Structure families with their own heads and targets
live in their own packages: :mod:`poseforge.models.nsrm`, :mod:`poseforge.models.rmgmn`."""
from poseforge.models.backbones.cpm import ARCH_SETTINGS, CPM, CPMArch
from poseforge.models.backbones.sia_gcn import SIAGCN, GraphRefinement

__all__ = ['ARCH_SETTINGS', 'CPM', 'CPMArch', 'SIAGCN', 'GraphRefinement']
