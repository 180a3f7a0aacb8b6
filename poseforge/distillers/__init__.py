"""Distillers: models above the models (registered in ``MODELS``).

A distiller owns complete pose estimators, reads what it needs from them by module path
through forward hooks, and trains one of them, which leaves as a plain checkpoint
(``tools/export_student.py``). See :mod:`poseforge.distillers.base` and docs/design.md.
"""
from poseforge.distillers import base, export, losses, okdhp, recorder, teacher
from poseforge.distillers.base import BaseDistiller, with_backbone
from poseforge.distillers.okdhp import FeatureAggregationUnit, OKDHPDistiller
from poseforge.distillers.recorder import ModulePathError, ModuleRecorder
from poseforge.distillers.teacher import build_frozen_teacher, teacher_checkpoints_optional

__all__ = ['base', 'export', 'losses', 'okdhp', 'recorder', 'teacher', 'BaseDistiller',
           'with_backbone', 'FeatureAggregationUnit', 'OKDHPDistiller', 'ModulePathError',
           'ModuleRecorder', 'build_frozen_teacher', 'teacher_checkpoints_optional']

from poseforge.distillers import kd  # noqa: E402,F401  (teacher -> student KD, issue 13)
__all__ += ['kd']

# model protection and reuse (issue 14): nasty teachers, the safe distillation box, amalgamation
from poseforge.distillers import amalgamation, nasty, sdb  # noqa: E402,F401
__all__ += ['amalgamation', 'nasty', 'sdb']
