"""Head-sharing KD: the teacher's own frozen heatmap head, run on the student's features.

Alibaba-MIIL/HeadSharingKD (``kd_teacher_head/kdth.py``, ``ModelTH`` / ``KDTH``): a copy of the
teacher's classifier, frozen, is applied to the student's penultimate features, and its output
is matched to the teacher's logits (KL at T = 4). The student's features are thus pushed
towards what the teacher's head can read, a feature-level signal that needs no free
regressor. For heatmap models the head is the teacher's last heatmap layer (e.g. the 1x1 score
conv of its last stage, ``teacher.backbone.stacks.1.score`` for a stacked hourglass,
``teacher.backbone.stages.2.12`` for the light CPM): ``teacher_head`` names it by path.

Here: ``maps = teacher_head(adapter(student features))`` with a trainable adapter (1x1, or
3x3, conv from the student's width to the head's input width: the two networks' widths differ
in general, which the classification code sidesteps), then ``maps`` against the teacher's own
heatmaps, resampled to ``maps``' grid: keypoint-weighted heatmap MSE (``criterion='mse'``,
default) or ``tau^2``-scaled spatial-softmax KL (``criterion='kl'``, ``tau`` 4 as
``KDTH``). The comparison is in the teacher's keypoint space (the head predicts the
teacher's keypoints); teacher keypoints the student does not predict keep weight 1.

The head's parameters get no gradient (they are the frozen teacher's) and are not copied: the
loss keeps a reference outside its module tree, so they are neither saved with the distiller
nor optimised; the adapter is trained and saved, and is not part of the exported student.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

from poseforge.distillers.kd.losses.base import KDContext, KDLoss, channels_of, pick
from poseforge.distillers.kd.losses.feature import align_conv
from poseforge.distillers.kd.losses.heatmap import MODES, weighted_heatmap_kl, weighted_heatmap_mse
from poseforge.distillers.recorder import resolve_module
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError


def head_in_channels(head: nn.Module, path: str) -> int | None:
    """The input width of a conv head (its first ``Conv2d``); ``None`` when not found."""
    for module in head.modules():
        if isinstance(module, nn.Conv2d):
            return int(module.in_channels)
    return None


@MODELS.register_module()
class HeadSharingKDLoss(KDLoss):
    """The teacher's frozen head on the adapted student features (see the module docstring).

    Args:
        student: module path of the student's features fed to the adapter (e.g. the input of
            its own heatmap layer: ``'student.backbone.final_layer:input'``).
        teacher_head: module path of the teacher's final heatmap layer.
        student_channels / head_channels: adapter widths (``None``: probed / read from the
            head's first conv).
        kernel_size: adapter kernel, 1 or 3.
        criterion: ``'mse'`` or ``'kl'``; ``tau`` for ``'kl'``.
        teacher: heatmap source of the target (``None``: the teacher's final heatmaps).
    """

    def __init__(self, name: str = 'loss_head', student: str | None = None,
                 teacher_head: str | None = None, student_channels: int | None = None,
                 head_channels: int | None = None, kernel_size: int = 1,
                 criterion: str = 'mse', tau: float = 4.0, **kwargs) -> None:
        if student is None or teacher_head is None:
            raise ConfigError(f'{name}: HeadSharingKDLoss needs student= (features) and '
                              'teacher_head= (the teacher heatmap layer) module paths')
        if not teacher_head.startswith('teacher.'):
            raise ConfigError(f"{name}: teacher_head '{teacher_head}' must start with 'teacher.'")
        if criterion not in MODES:
            raise ConfigError(f"{name}: criterion must be one of {MODES}, got '{criterion}'")
        super().__init__(name=name, student=student, **kwargs)
        self.teacher_head_path = teacher_head
        self.student_channels = student_channels
        self.head_channels = head_channels
        self.kernel_size = kernel_size
        self.criterion = criterion
        self.tau = float(tau)
        self._head: list[nn.Module] = []  # a list: the teacher's module stays out of this tree
        self.adapter: nn.Module | None = None

    @property
    def teacher_head(self) -> nn.Module:
        if not self._head:
            raise RuntimeError(f'{self.name}: setup() was not called')
        return self._head[0]

    def setup(self, distiller: nn.Module, probe: Callable[[], dict]) -> None:
        head = resolve_module(distiller, self.teacher_head_path, type(distiller).__name__)
        self._head = [head]
        if self.head_channels is None:
            self.head_channels = head_in_channels(head, self.teacher_head_path)
            if self.head_channels is None:
                raise ConfigError(f"{self.name}: '{self.teacher_head_path}' has no Conv2d to read "
                                  'its input width from: give head_channels=')
        if self.student_channels is None:
            value = pick(probe()[self.student_path], self.student_index, self.student_path)
            self.student_channels = channels_of(value, self.student_path)
        self.adapter = align_conv(self.student_channels, self.head_channels, self.kernel_size)

    def forward(self, ctx: KDContext) -> Tensor:
        features = self.student_value(ctx)
        maps = self.teacher_head(self.adapter(features))
        target = ctx.to_student_grid(self.teacher_value(ctx), maps.shape[-2:]).detach()
        if maps.shape != target.shape:
            raise ConfigError(f'{self.name}: the teacher head gives {tuple(maps.shape)} on the '
                              f'student features, the teacher heatmaps are {tuple(target.shape)}')
        weights = ctx.teacher_kd_weights
        if self.criterion == 'mse':
            return weighted_heatmap_mse(maps, target, weights)
        return weighted_heatmap_kl(maps, target, weights, self.tau)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, teacher_head={self.teacher_head_path!r}, '
                f'criterion={self.criterion!r}')
