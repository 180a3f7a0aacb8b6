"""Datasets, collation and the data pipeline; importing this registers them all."""
from . import base, coco_style, collate, hand_conversions, transforms  # noqa: F401
from . import coco, mhp, mpii, multi_format, onehand10k, panoptic_hand, rhd, stb  # noqa: F401
from . import clips, hand_boxes, synth_hand, union  # noqa: F401
from .clips import ClipDataset
from .base import BaseKeypointDataset, DatasetError, instance
from .coco import CocoDataset
from .coco_style import CocoStyleDataset
from .hand_boxes import HandBoxDataset, SynthHandBoxDataset
from .mhp import MhpDataset
from .mpii import MpiiDataset
from .onehand10k import OneHand10KDataset
from .panoptic_hand import PanopticHandDataset
from .rhd import RhdDataset
from .stb import StbDataset
from .synth_hand import SynthHandDataset
from .union import UnionKeypointDataset

__all__ = ['BaseKeypointDataset', 'ClipDataset', 'CocoDataset', 'CocoStyleDataset', 'DatasetError', 'MhpDataset',
           'HandBoxDataset', 'MpiiDataset', 'OneHand10KDataset', 'PanopticHandDataset', 'RhdDataset', 'StbDataset',
           'SynthHandBoxDataset', 'SynthHandDataset', 'UnionKeypointDataset', 'instance']
