"""OKDHP: multi-branch online knowledge distillation (registered in ``MODELS``)."""
from poseforge.distillers.okdhp.distiller import OKDHPDistiller, OKDHPOutputs
from poseforge.distillers.okdhp.fau import FeatureAggregationUnit

__all__ = ['OKDHPDistiller', 'OKDHPOutputs', 'FeatureAggregationUnit']
