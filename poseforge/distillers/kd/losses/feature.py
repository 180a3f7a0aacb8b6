"""Feature KD: the student's feature map, aligned to the teacher's channels, regresses the teacher's.

FitNets' hint loss (Romero et al., ICLR 2015) in DWPose's form (Yang et al., ICCVW 2023; mmpose
``FeaLoss``): a 1x1 convolution maps the student's ``C_s`` channels to the teacher's ``C_t``
(only when they differ, as there; ``align=True`` forces one; ``kernel_size=3`` gives a 3x3
alignment), then ``sum (align(S) - T)^2 / B`` (a sum over channels and pixels, averaged over the
batch) times the weight, DWPose's 7e-5 on the last backbone stage by default.

Teacher and student maps of different spatial size (other strides or input sizes) are brought
to one size by bilinear interpolation (``align_corners=False``): by default the aligned student
map is resized to the teacher's (the target stays as the teacher computed it, and the loss's
scale is the teacher's ``C_t * H_t * W_t`` as in DWPose); ``resize_to='student'`` resizes the
teacher's instead. The alignment conv is part of the distiller (trained, saved in its
checkpoints, restored on resume), never of the exported student.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn
from torch.nn import functional as F

from poseforge.distillers.kd.losses.base import KDContext, KDLoss, channels_of, pick
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError


def align_conv(in_channels: int, out_channels: int, kernel_size: int = 1) -> nn.Conv2d:
    """The student -> teacher channel adapter (biased conv, PyTorch's default init as DWPose)."""
    if kernel_size not in (1, 3):
        raise ConfigError(f'alignment kernel_size must be 1 or 3, got {kernel_size}')
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


def resize_like(x: Tensor, size) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def feature_mse_sum(student: Tensor, teacher: Tensor) -> Tensor:
    """``sum (S - T)^2 / B`` in float32 (mmpose ``FeaLoss.get_dis_loss`` without its weight)."""
    return (student.float() - teacher.float()).square().sum() / student.shape[0]


@MODELS.register_module()
class FeatureKDLoss(KDLoss):
    """Aligned feature regression (see the module docstring).

    Args:
        student / teacher: module paths of the two feature maps (required).
        student_channels / teacher_channels: their widths; ``None``: read from a probe forward
            when the distiller is built.
        kernel_size: 1 (DWPose) or 3.
        align: ``None``: an alignment conv only when the widths differ; ``True`` / ``False``.
        resize_to: ``'teacher'`` or ``'student'`` (whose spatial size the two maps meet at).
        weight: DWPose's ``alpha_fea`` 7e-5 by default.
    """

    def __init__(self, name: str = 'loss_fea', student: str | None = None,
                 teacher: str | None = None, student_channels: int | None = None,
                 teacher_channels: int | None = None, kernel_size: int = 1,
                 align: bool | None = None, resize_to: str = 'teacher', weight: float = 7e-5,
                 **kwargs) -> None:
        if student is None or teacher is None:
            raise ConfigError(f'{name}: FeatureKDLoss needs student= and teacher= module paths')
        super().__init__(name=name, student=student, teacher=teacher, weight=weight, **kwargs)
        if resize_to not in ('teacher', 'student'):
            raise ConfigError(f"{name}: resize_to must be 'teacher' or 'student'")
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.kernel_size = kernel_size
        self.align_flag = align
        self.resize_to = resize_to
        self.align: nn.Module | None = None
        if student_channels is not None and teacher_channels is not None:
            self._build_align()

    def _build_align(self) -> None:
        needed = (self.student_channels != self.teacher_channels if self.align_flag is None
                  else self.align_flag)
        if not needed and self.student_channels != self.teacher_channels:
            raise ConfigError(f'{self.name}: align=False but the student has '
                              f'{self.student_channels} channels and the teacher '
                              f'{self.teacher_channels}')
        self.align = (align_conv(self.student_channels, self.teacher_channels, self.kernel_size)
                      if needed else None)

    def setup(self, distiller: nn.Module, probe: Callable[[], dict]) -> None:
        if self.student_channels is None or self.teacher_channels is None:
            records = probe()
            if self.student_channels is None:
                self.student_channels = channels_of(
                    pick(records[self.student_path], self.student_index, self.student_path),
                    self.student_path)
            if self.teacher_channels is None:
                self.teacher_channels = channels_of(
                    pick(records[self.teacher_path], self.teacher_index, self.teacher_path),
                    self.teacher_path)
            self._build_align()

    def forward(self, ctx: KDContext) -> Tensor:
        student = self.student_value(ctx)
        teacher = self.teacher_value(ctx).detach()
        if self.align is not None:
            student = self.align(student)
        if self.resize_to == 'teacher':
            student = resize_like(student, teacher.shape[-2:])
        else:
            teacher = resize_like(teacher, student.shape[-2:])
        if student.shape != teacher.shape:
            raise ConfigError(f'{self.name}: aligned student features {tuple(student.shape)} '
                              f'and teacher features {tuple(teacher.shape)} differ')
        return feature_mse_sum(student, teacher)
