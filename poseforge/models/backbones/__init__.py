"""Backbones (registered in ``MODELS``)."""
from poseforge.models.backbones.cpm import ARCH_SETTINGS, CPM, CPMArch
from poseforge.models.backbones.nsrm import NSRM, NSRMOutput

__all__ = ['ARCH_SETTINGS', 'CPM', 'CPMArch', 'NSRM', 'NSRMOutput']
