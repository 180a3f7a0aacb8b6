"""poseforge: a PyTorch training suite for hand and human pose estimation.

``import poseforge`` is cheap: subpackages load on first use (``poseforge.models``,
``poseforge.datasets``, ... through PEP 562 ``__getattr__``), so that light users, such as the
synthetic-data generator and its worker processes (numpy, scipy, trimesh and OpenCV only), do
not pay for torch and mmengine.

Registration needs no import either: every registry of :mod:`poseforge.registry` names the
modules that define its types (mmengine's ``locations``) and imports them the first time a
config is built or a name is looked up. :func:`poseforge.registry.register_all_modules` imports
all of them at once (to list every registered name, say).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.1.0'

#: Subpackages and modules reachable as attributes, each imported on first access.
SUBMODULES = ('analysis', 'apis', 'codecs', 'datasets', 'deploy', 'distillers', 'engine',
              'evaluation', 'generation', 'models', 'registry', 'skeletons', 'tracking', 'utils',
              'visualization')

__all__ = ['__version__', *SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f"module 'poseforge' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))
