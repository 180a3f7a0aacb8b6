"""Synthetic data generation: a procedural hand, a pose prior, cameras, a software renderer.

Entry point: :func:`poseforge.generation.synth_hands.generate_dataset` (CLI:
``tools/generate_dataset.py``). The submodules import only numpy, scipy, trimesh and OpenCV,
so generation workers stay light.
"""
from poseforge.generation.synth_hands import (GenerationConfig, GenerationSummary, benchmark,
                                              generate_dataset, render_sample)

__all__ = ['GenerationConfig', 'GenerationSummary', 'benchmark', 'generate_dataset',
           'render_sample']
