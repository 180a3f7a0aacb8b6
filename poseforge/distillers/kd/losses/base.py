"""What every teacher -> student loss shares: its name, weight, schedule, and the tensors it reads.

A loss config (one entry of :class:`~poseforge.distillers.kd.KDDistiller`'s ``distill`` list)::

    dict(type='FeatureKDLoss', name='loss_fea', weight=7e-5,
         student='student.backbone.decoder.1', teacher='teacher.backbone.trunk',
         schedule=dict(policy='linear_decay'))

``student`` / ``teacher`` are module paths from the distiller (``'student.'`` / ``'teacher.'``
first), read through forward hooks (append ``':input'`` for a module's input); ``None`` means
the estimator's final heatmaps (``head.predict`` of the backbone's output: the last stage of a
multi-stage model). A module returning a list or tuple is read at ``student_index`` /
``teacher_index`` (default -1: the last stage of a multi-stage backbone).

The distiller computes ``weight * schedule(progress) * loss(context)`` under the key ``name``
(it must contain ``loss`` for mmengine to optimise it) and logs the unweighted value as
``kd_<name without loss_>`` and the schedule's factor as ``w_<...>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from torch import Tensor, nn

from poseforge.distillers.kd.schedules import WeightSchedule
from poseforge.utils.config import ConfigError


@dataclass
class KDContext:
    """What one training step offers the losses.

    Attributes:
        student_heatmaps: ``(B, K_s, h_s, w_s)`` the student's final heatmaps (with gradient).
        teacher_heatmaps: ``(B, K_t, h_t, w_t)`` the teacher's, on its own grid (no gradient).
        teacher_on_student: the teacher's heatmaps resampled to the student's grid and mapped
            to the student's keypoints ``(B, K_s, h_s, w_s)``.
        kd_weights: ``(B, K_s)`` per-keypoint weights of the KD terms: the samples' keypoint
            weights (ones in label-free mode and for mixed images), 0 where the teacher has
            no counterpart keypoint.
        teacher_kd_weights: ``(B, K_t)`` the same in the teacher's keypoint space (ones for
            teacher keypoints the student does not have).
        student_input / teacher_input: ``(H, W)`` of each network's input.
        read: ``read(spec)`` -> what the hook on ``spec`` recorded this step.
        to_student_grid: ``f(maps, size)`` resamples teacher-aligned maps to ``size`` in the
            student's frame (the exact grid mapping of :mod:`~poseforge.distillers.kd.geometry`).
        map_keypoints: ``f(maps)`` picks the student's keypoints from teacher-keypoint maps.
    """

    student_heatmaps: Tensor
    teacher_heatmaps: Tensor
    teacher_on_student: Tensor
    kd_weights: Tensor
    teacher_kd_weights: Tensor
    student_input: tuple[int, int]
    teacher_input: tuple[int, int]
    read: Callable[[str], Any]
    to_student_grid: Callable[[Tensor, Sequence[int]], Tensor]
    map_keypoints: Callable[[Tensor], Tensor]
    extras: dict = field(default_factory=dict)


def pick(value: Any, index: int, spec: str) -> Tensor:
    """A recorded value as one tensor: element ``index`` of a list / tuple output."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(f"module '{spec}' returned an empty {type(value).__name__}")
        value = value[index]
    if not isinstance(value, Tensor):
        raise ConfigError(f"module '{spec}' gives a {type(value).__name__}, not a tensor: name "
                          'a module whose output (or input, with :input) is a feature map')
    return value


class KDLoss(nn.Module):
    """Base of the registered teacher -> student losses.

    Args:
        name: the loss key (must contain ``loss``).
        weight: its weight.
        schedule: a :class:`~poseforge.distillers.kd.schedules.WeightSchedule` config.
        student / teacher: module paths (``None``: the final heatmaps).
        student_index / teacher_index: element of a list / tuple output (-1: the last).
    """

    #: Default paths when the config gives none (``None`` = final heatmaps).
    default_student: str | None = None
    default_teacher: str | None = None

    def __init__(self, name: str, weight: float = 1.0, schedule: dict | str | None = None,
                 student: str | None = None, teacher: str | None = None,
                 student_index: int = -1, teacher_index: int = -1) -> None:
        super().__init__()
        if 'loss' not in name:
            raise ConfigError(f"a distillation loss name must contain 'loss' (mmengine optimises "
                              f"those keys only), got '{name}'")
        self.name = name
        self.weight = float(weight)
        self.schedule = WeightSchedule.build(schedule)
        self.student_path = student if student is not None else self.default_student
        self.teacher_path = teacher if teacher is not None else self.default_teacher
        self.student_index = int(student_index)
        self.teacher_index = int(teacher_index)
        for side, path in (('student', self.student_path), ('teacher', self.teacher_path)):
            if path is not None and not path.startswith(f'{side}.'):
                raise ConfigError(f"{name}: the {side} path '{path}' must start with "
                                  f"'{side}.' (paths are relative to the distiller)")

    @property
    def log_suffix(self) -> str:
        return self.name.replace('loss_', '', 1).replace('loss', '', 1) or self.name

    def specs(self) -> list[str]:
        """The module paths this loss records."""
        return [p for p in (self.student_path, self.teacher_path) if p is not None]

    def setup(self, distiller: nn.Module, probe: Callable[[], dict]) -> None:
        """Called once the distiller has built its student and teacher: build what depends on
        them (alignment convs). ``probe()`` returns ``{spec: tensor}`` from a forward pass of a
        tiny input through both networks (computed once, on first call)."""

    def student_value(self, ctx: KDContext) -> Tensor:
        if self.student_path is None:
            return ctx.student_heatmaps
        return pick(ctx.read(self.student_path), self.student_index, self.student_path)

    def teacher_value(self, ctx: KDContext) -> Tensor:
        if self.teacher_path is None:
            return ctx.teacher_heatmaps
        return pick(ctx.read(self.teacher_path), self.teacher_index, self.teacher_path)

    def forward(self, ctx: KDContext) -> Tensor:
        """The unweighted loss (a scalar)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'name={self.name!r}, weight={self.weight:g}, schedule={self.schedule.policy}, '
                f'student={self.student_path!r}, teacher={self.teacher_path!r}')


def channels_of(tensor: Tensor, spec: str) -> int:
    if tensor.dim() != 4:
        raise ConfigError(f"'{spec}' gives a {tensor.dim()}-d tensor; feature losses need "
                          '(B, C, H, W) maps')
    return int(tensor.shape[1])
