"""Analyses of trained models (attribution maps and model transferability)."""
from poseforge.analysis import attribution  # noqa: F401

__all__ = ['attribution']
