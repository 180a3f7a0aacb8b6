"""Synthetic data generation (MVHM spin match): a rigged hand template, spin matching to
target poses, sequences, camera rigs, a software renderer and COCO / MHP writers.

Entry point: :func:`poseforge.generation.synth_hands.generate_dataset` (CLI:
``tools/generate_dataset.py``). The submodules import only numpy, scipy, trimesh and OpenCV
(the ``stb``/``rhd``/``mhp`` pose sources load poseforge's dataset loaders on demand), so
generation workers stay light.
"""
from poseforge.generation.skinning import SkeletonPose, skin
from poseforge.generation.spin_match import SpinMatchResult, spin_match
from poseforge.generation.synth_hands import (GenerationConfig, GenerationError,
                                              GenerationSummary, benchmark, generate_dataset,
                                              render_sample)
from poseforge.generation.template import HandTemplate, hand_template

__all__ = ['GenerationConfig', 'GenerationError', 'GenerationSummary', 'HandTemplate',
           'SkeletonPose', 'SpinMatchResult', 'benchmark', 'generate_dataset', 'hand_template',
           'render_sample', 'skin', 'spin_match']
