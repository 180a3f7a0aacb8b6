"""Datasets, collation and the data pipeline; importing this registers them all."""
from . import base, coco_style, collate, hand_conversions, transforms  # noqa: F401
from . import mhp, stb, synth_hand  # noqa: F401
from .base import BaseKeypointDataset, DatasetError, instance
from .coco_style import CocoStyleDataset
from .mhp import MhpDataset
from .stb import StbDataset
from .synth_hand import SynthHandDataset

__all__ = ['BaseKeypointDataset', 'CocoStyleDataset', 'DatasetError', 'MhpDataset',
           'StbDataset', 'SynthHandDataset', 'instance']
