"""Datasets, collation and the data pipeline; importing this registers them all.

``transforms`` is imported when the package is present, so the datasets stay importable while
it is being written (an error inside it still surfaces: only its absence is tolerated).
"""
from importlib.util import find_spec

from . import base, collate, synth_hand  # noqa: F401
from .base import BaseKeypointDataset, DatasetError, instance
from .synth_hand import SynthHandDataset

if find_spec(f'{__name__}.transforms') is not None:
    from . import transforms  # noqa: F401

__all__ = ['BaseKeypointDataset', 'DatasetError', 'SynthHandDataset', 'instance']
