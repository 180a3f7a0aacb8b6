"""poseforge: a PyTorch training suite for hand and human pose estimation.

Importing the package registers every model, dataset, transform, codec, metric and hook with the
``poseforge`` registries (see :mod:`poseforge.registry`).
"""
__version__ = '0.1.0'

from . import registry, skeletons  # noqa: F401,E402
from . import codecs, datasets, engine, evaluation, models, visualization  # noqa: F401,E402
from . import distillers  # noqa: F401,E402
