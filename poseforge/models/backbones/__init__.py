"""Backbones (registered in ``MODELS``)."""
from poseforge.models.backbones.cpm import ARCH_SETTINGS, CPM, CPMArch

__all__ = ['ARCH_SETTINGS', 'CPM', 'CPMArch']
