"""Offline teacher -> student distillation for heatmap pose models.

:class:`KDDistiller` owns a frozen teacher (any poseforge estimator: config + checkpoint) and a
student estimator (any config), and trains the student on

    ``gt_weight * (the student's own loss) + sum_i weight_i * schedule_i(progress) * loss_i``

where the ``loss_i`` are the config's ``distill`` list (:mod:`poseforge.distillers.kd.losses`:
heatmap MSE / KL, aligned features, the teacher's head on the student's features, angular-
margin attention), each reading the student's and the teacher's modules by path through
forward hooks, so no model changes to distil a new pair. ``mixup`` adds MIX-KD's mixed
images (:mod:`~poseforge.distillers.kd.mixup`); ``label_free=True`` drops the ground truth
altogether (unlabelled images: the teacher's maps are the only target).

Teacher and student may differ in architecture, input size, heatmap stride and keypoints: the
teacher sees the student's crop resized to ``teacher_input_size`` and re-normalised with its
own statistics, its heatmaps are resampled to the student's grid exactly, and
``keypoint_map`` picks the student's keypoints from the teacher's
(:mod:`~poseforge.distillers.kd.geometry`).

The teacher stays in eval mode, gets no gradient and is left out of the distiller's
checkpoints (``keep_teacher_in_state_dict=True`` keeps it); the KD losses' own modules
(alignment convs, adapters) are trained and saved with the distiller and restored on resume;
evaluation runs the student's own prediction path (``predict_with='teacher'`` evaluates the
teacher through the same crops); ``tools/export_student.py`` writes the student alone.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from poseforge.distillers.base import BaseDistiller
from poseforge.distillers.kd.geometry import (KeypointMap, renormalize, resample_to_student,
                                              resize_input)
from poseforge.distillers.kd.losses.base import KDContext, KDLoss
from poseforge.distillers.kd.mixup import MixupKD
from poseforge.distillers.kd.pruning import apply_masks_to_state
from poseforge.distillers.losses import as_float_tensor
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError

#: Keys of the student's own loss dict that the GT weight scales (every optimised key).
GT_PREFIX = 'loss'


def _size_hw(size: Sequence[int] | None, what: str) -> tuple[int, int] | None:
    """A ``(w, h)`` config size (the codecs' order) as ``(h, w)``."""
    if size is None:
        return None
    if isinstance(size, int):
        return int(size), int(size)
    if len(size) != 2:
        raise ConfigError(f'{what} must be (w, h), got {size!r}')
    return int(size[1]), int(size[0])


@MODELS.register_module()
class KDDistiller(BaseDistiller):
    """A frozen teacher distilled into a student (see the module docstring).

    Args:
        student: the student's model dict or config file (a ``TopdownPoseEstimator``).
        teacher: the teacher's model dict or config file.
        teacher_checkpoint: the teacher's weights (required unless building for export).
        distill: loss configs (``HeatmapKDLoss``, ``FeatureKDLoss``, ``HeadSharingKDLoss``,
            ``AMDLoss``, or any :class:`~poseforge.distillers.kd.losses.KDLoss`), each with
            ``name``, ``weight``, ``schedule`` and module paths.
        gt_weight: ``alpha``, the weight of the student's ground-truth loss.
        label_free: no ground truth at all (no GT loss, KD weights 1 for every keypoint).
        teacher_input_size: ``(w, h)`` the teacher's input; ``None``: the student's crop as is.
        keypoint_map: a teacher keypoint index per student keypoint (-1: none); ``None``: the
            same keypoints.
        mixup: a ``MixupKD`` config (mixed images for a fraction of each batch).
        keep_teacher_in_state_dict: also save the teacher in the distiller's checkpoints.
        probe_input_size: ``(w, h)`` of the tiny forward that reads feature widths when the
            loss configs do not give them (default: the student codec's input size).
        predict_with: ``'student'`` or ``'teacher'``.
    """

    def __init__(self, student: dict | str, teacher: dict | str,
                 teacher_checkpoint: str | None = None, distill: Sequence[dict] = (),
                 gt_weight: float = 1.0, label_free: bool = False,
                 teacher_input_size: Sequence[int] | None = None,
                 keypoint_map: Sequence[int | None] | None = None, mixup: dict | None = None,
                 keep_teacher_in_state_dict: bool = False,
                 probe_input_size: Sequence[int] | None = None,
                 predict_with: str = 'student', init_cfg: dict | None = None) -> None:
        super().__init__(predict_with=predict_with, init_cfg=init_cfg)
        self.student = self.build_student(student)
        self.add_frozen_teacher('teacher', teacher, teacher_checkpoint,
                                keep_in_state_dict=keep_teacher_in_state_dict)
        self._renormalize = (_normalisation(self.data_preprocessor) !=
                             _normalisation(getattr(self.teacher, 'data_preprocessor', None)))
        self.gt_weight = float(gt_weight)
        self.label_free = bool(label_free)
        self.teacher_input_hw = _size_hw(teacher_input_size, 'teacher_input_size')
        self._probe_hw = _size_hw(probe_input_size, 'probe_input_size')
        self.keypoint_map = KeypointMap(keypoint_map, _num_keypoints(self.teacher),
                                        _num_keypoints(self.student))
        self.mixup = _build_mixup(mixup)
        self.kd_losses = nn.ModuleDict()
        for cfg in distill:
            loss = _build_loss(cfg)
            if loss.name in self.kd_losses or loss.name.startswith('loss_kpt'):
                raise ConfigError(f"distillation loss name '{loss.name}' is used twice (or "
                                  "clashes with the student's loss_kpt)")
            self.kd_losses[loss.name] = loss
        specs = ['student.backbone', 'teacher.backbone']
        for loss in self.kd_losses.values():
            specs += loss.specs()
        self.record(specs)  # resolves every path now: a typo is a config error at build time
        self._probe_cache: dict | None = None
        for loss in self.kd_losses.values():
            loss.setup(self, self._probe)
        self._probe_cache = None  # keep no tensors from the probe

    # ------------------------------------------------------------------ inputs
    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        """The student's normalised crop as the teacher expects it: its own statistics, its
        own input size (see :mod:`~poseforge.distillers.kd.geometry`)."""
        if self._renormalize:
            s_pre, t_pre = self.data_preprocessor, self.teacher.data_preprocessor
            inputs = renormalize(inputs, s_pre.mean, s_pre.std, t_pre.mean, t_pre.std)
        return resize_input(inputs, self.teacher_input_hw)

    def _probe_size(self) -> tuple[int, int]:
        if self._probe_hw is not None:
            return self._probe_hw
        decoder = getattr(getattr(self.student, 'head', None), 'decoder', None)
        size = getattr(decoder, 'input_size', None)
        return _size_hw(tuple(size), 'codec input_size') if size is not None else (64, 64)

    def _probe(self) -> dict:
        """``{spec: recorded value}`` of one forward of a zero batch through both networks
        (eval mode, no gradient); what the losses read channel counts from."""
        if self._probe_cache is None:
            x = torch.zeros(2, 3, *self._probe_size())
            was_training = self.student.training
            self.student.eval()
            try:
                with torch.no_grad(), self.recorder.recording():
                    self.student(x, mode='tensor')
                    self.teacher(self.teacher_inputs(x), mode='tensor')
                self._probe_cache = {spec: self.recorder[spec] for spec in self.recorder.specs
                                     if spec in self.recorder}
            finally:
                self.student.train(was_training)
                self.recorder.clear()
        return self._probe_cache

    # ------------------------------------------------------------------ training
    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss' and self.label_free:  # no targets needed
            return self.loss(inputs, data_samples or {})
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """``loss_kpt`` (the student's GT loss x ``gt_weight``; absent when label-free), one
        key per KD loss (weighted, scheduled), and logged: ``kd_<name>`` (each KD loss
        unweighted), ``w_<name>`` (its current weight x schedule), the student's ``acc_pose``."""
        labels = None if self.label_free else data_samples.get('keypoint_weights')
        mixed = None
        if self.mixup is not None:
            batch = self.mixup.mix(inputs, keep_one=not self.label_free)
            inputs, mixed = batch.inputs, batch.mixed
        losses: dict[str, Tensor] = {}
        with self.recorder.recording():
            if self.label_free:
                student_out = self.student(inputs, mode='tensor')
            else:
                samples = dict(data_samples)
                if mixed is not None and labels is not None:
                    samples['keypoint_weights'] = MixupKD.gt_weights(labels, mixed)
                gt_losses = self.student(inputs, samples, mode='loss')
                losses.update({k: v * self.gt_weight if k.startswith(GT_PREFIX) else v
                               for k, v in gt_losses.items()})
                student_out = self.recorder['student.backbone']
            teacher_in = self.teacher_inputs(inputs)
            with torch.no_grad():
                teacher_out = self.teacher(teacher_in, mode='tensor')
        ctx = self.context(inputs, teacher_in, student_out, teacher_out, labels, mixed)
        progress = self.training_progress()
        for name, loss in self.kd_losses.items():
            value = loss(ctx)
            factor = loss.weight * loss.schedule(progress)
            losses[name] = value * factor
            losses[f'kd_{loss.log_suffix}'] = value.detach()
            losses[f'w_{loss.log_suffix}'] = as_float_tensor(factor, value)
        return losses

    def context(self, inputs: Tensor, teacher_in: Tensor, student_out: Any, teacher_out: Any,
                labels: Tensor | None, mixed: Tensor | None) -> KDContext:
        """The :class:`KDContext` of one step (heatmaps on both grids, KD weights, records)."""
        student_maps = self.student.head.predict(student_out)
        teacher_maps = self.teacher.head.predict(teacher_out).detach()
        b, k_s = student_maps.shape[:2]
        k_t = teacher_maps.shape[1]
        if self.keypoint_map.mapping is None and k_s != k_t:
            raise ConfigError(f'the teacher predicts {k_t} keypoints and the student {k_s}: '
                              'give keypoint_map (one teacher index per student keypoint)')
        s_in, t_in = tuple(inputs.shape[-2:]), tuple(teacher_in.shape[-2:])

        def to_student_grid(maps: Tensor, size: Sequence[int]) -> Tensor:
            return resample_to_student(maps, t_in, s_in, size)

        weights = (torch.ones(b, k_s, device=student_maps.device) if labels is None
                   else labels.float().reshape(b, k_s))
        if mixed is not None:
            weights = MixupKD.kd_weights(weights, mixed)
        weights = self.keypoint_map.mask(weights)
        teacher_weights = self._teacher_space_weights(weights, k_t)
        on_student = self.keypoint_map.select(
            to_student_grid(teacher_maps, student_maps.shape[-2:]))
        return KDContext(student_heatmaps=student_maps, teacher_heatmaps=teacher_maps,
                         teacher_on_student=on_student, kd_weights=weights,
                         teacher_kd_weights=teacher_weights, student_input=s_in,
                         teacher_input=t_in, read=lambda spec: self.recorder[spec],
                         to_student_grid=to_student_grid,
                         map_keypoints=self.keypoint_map.select)

    def _teacher_space_weights(self, weights: Tensor, num_teacher: int) -> Tensor:
        """Student KD weights ``(B, K_s)`` in the teacher's keypoints ``(B, K_t)``: each mapped
        teacher keypoint takes its student's weight, the others 1."""
        if self.keypoint_map.mapping is None:
            return weights
        out = torch.ones(weights.shape[0], num_teacher, device=weights.device,
                         dtype=weights.dtype)
        pairs = [(s, t) for s, t in enumerate(self.keypoint_map.mapping) if t >= 0]
        if pairs:
            src = torch.tensor([s for s, _ in pairs], device=weights.device)
            dst = torch.tensor([t for _, t in pairs], device=weights.device)
            out[:, dst] = weights[:, src]
        return out

    # ------------------------------------------------------------------ export
    def export_student(self, branch: int | None = None) -> tuple[dict[str, Tensor], dict]:
        """The plain student; weights pruned by a KD-ticket round (``torch.nn.utils.prune``
        masks, while one is running) leave as plain tensors with their zeros in place."""
        state, cfg = super().export_student(branch)
        return apply_masks_to_state(state), cfg

    # ------------------------------------------------------------------ prediction
    def prediction_targets(self) -> dict:
        return {'student': self.student.predict, 'teacher': self.teacher_predict}

    def teacher_predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """The teacher's predictions on the student's crops (resized as in training), mapped
        to image pixels through each sample's ``input_to_image`` composed with the resize."""
        teacher_in = self.teacher_inputs(inputs)
        if teacher_in.shape[-2:] == inputs.shape[-2:]:
            return self.teacher.predict(teacher_in, data_samples)
        scale = to_student_pixels(teacher_in.shape[-2:], inputs.shape[-2:])
        metas = list((data_samples or {}).get('meta') or [])
        if metas:
            metas = [dict(m, input_to_image=compose_affine(m['input_to_image'], scale))
                     for m in metas]
        else:
            metas = [dict(input_to_image=scale) for _ in range(inputs.shape[0])]
        samples = dict(data_samples or {}, meta=metas)
        return self.teacher.predict(teacher_in, samples)


def to_student_pixels(teacher_hw: Sequence[int], student_hw: Sequence[int]) -> np.ndarray:
    """The 2x3 affine from the resized (teacher) crop's px to the student crop's px:
    ``x_s = (x_t + 1/2) * W_s / W_t - 1/2`` per axis (half-pixel centres)."""
    rx = student_hw[1] / teacher_hw[1]
    ry = student_hw[0] / teacher_hw[0]
    return np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5]], dtype=np.float64)


def compose_affine(outer: Any, inner: np.ndarray) -> np.ndarray:
    """2x3 affines: ``outer(inner(x))``."""
    outer = np.asarray(outer, dtype=np.float64)
    return np.concatenate([outer[:, :2] @ inner[:, :2],
                           (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)


def _normalisation(preprocessor: nn.Module | None) -> tuple | None:
    """``(mean, std)`` of a preprocessor as Python floats, read once at build time (``None``
    when it has none); the buffers may live on a device where values cannot be read later."""
    if preprocessor is None or not hasattr(preprocessor, 'mean'):
        return None
    if preprocessor.mean.is_meta:  # built on the meta device (parameter counts): no values
        return None
    return (tuple(preprocessor.mean.flatten().tolist()),
            tuple(preprocessor.std.flatten().tolist()))


def _num_keypoints(estimator: nn.Module) -> int | None:
    value = getattr(getattr(estimator, 'backbone', None), 'num_keypoints', None)
    return int(value) if value is not None else None


def _build_loss(cfg: dict | KDLoss) -> KDLoss:
    loss = cfg if isinstance(cfg, KDLoss) else MODELS.build(copy.deepcopy(dict(cfg)))
    if not isinstance(loss, KDLoss):
        raise ConfigError(f'{type(loss).__name__} is not a distillation loss (KDLoss): '
                          'distill= takes HeatmapKDLoss, FeatureKDLoss, HeadSharingKDLoss, AMDLoss')
    return loss


def _build_mixup(cfg: dict | MixupKD | None) -> MixupKD | None:
    if cfg is None or isinstance(cfg, MixupKD):
        return cfg
    cfg = dict(cfg)
    cfg.setdefault('type', 'MixupKD')
    return MODELS.build(cfg)
