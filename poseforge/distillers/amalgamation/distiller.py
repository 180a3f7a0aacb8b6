"""Knowledge amalgamation: several teachers of different tasks -> one student, without labels.

:class:`AmalgamationDistiller` owns frozen teachers, each knowing a *task*: a subset of the
union keypoint layout (a body teacher's 17 joints and a hand teacher's 21 inside a 38-keypoint
body + hand layout; or two hand teachers each trained on some fingers). The student is an
ordinary estimator on the union layout whose *trunk* (everything up to its last 1x1 heatmap
conv, ``head``) is shared by all tasks; during amalgamation one 1x1 head per teacher task
("branch-out per task", Student Becoming the Master, arXiv 1904.10167) reads the trunk's
feature (``student_feature``, the input of that conv) and learns its teacher's heatmaps.
Nothing uses ground truth: the loss is

    kd_weight * sum_tasks KD(head_t(f_s), target_t)              (heatmap KD per head)
    + mmd_weight * sum_i MMD(h_s, h_t_i) + recon_weight * sum_i ||dec_i(h_t_i) - f_t_i||^2

with the common feature learning terms of :mod:`~poseforge.distillers.amalgamation.losses`
(alignment convs into a shared space, multi-kernel MMD, reconstruction of each teacher's
feature; skipped when both weights are 0). ``target_t`` is the task's teacher's maps
(``select='none'``) or, on keypoints several teachers know, the least ambiguous teacher's
(``select='sample'``: one teacher per sample for all shared keypoints; ``'keypoint'``: per
sample and keypoint; arXiv 1908.07121's selective learning, sharpness = low entropy).

The heads leave as the student's own last conv: since each head is a 1x1 conv on the same
feature, their rows are copied into ``head`` (a keypoint known to several tasks gets the mean
of their rows, which is exactly the mean of their maps), so the shipped student is a plain
estimator (:meth:`export_student`) and evaluation runs its own prediction path. Metrics per
teacher task: ``TaskPCKAccuracy`` (:mod:`~poseforge.distillers.amalgamation.tasks`).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from poseforge.distillers.base import BaseDistiller
from poseforge.distillers.kd.distiller import _normalisation, _size_hw
from poseforge.distillers.kd.geometry import renormalize, resample_to_student, resize_input
from poseforge.distillers.kd.losses.heatmap import weighted_heatmap_kl, weighted_heatmap_mse
from poseforge.distillers.amalgamation.losses import (DEFAULT_SIGMAS, CommonFeatureBlock,
                                                      multi_kernel_mmd, reconstruction_mse,
                                                      select_targets)
from poseforge.distillers.amalgamation.tasks import check_task_keypoints
from poseforge.distillers.losses import as_float_tensor
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError

SELECT_MODES = ('none', 'sample', 'keypoint')


def _resolve(module: nn.Module, path: str) -> nn.Module:
    for part in path.split('.'):
        if not hasattr(module, part):
            raise ConfigError(f"AmalgamationDistiller: the student has no module '{path}' "
                              f"(no '{part}')")
        module = getattr(module, part)
    return module


@MODELS.register_module()
class AmalgamationDistiller(BaseDistiller):
    """Amalgamates teachers of keypoint-subset tasks into one student (module docstring).

    Args:
        student: the student's model dict / config file, on the union keypoint layout.
        teachers: one dict per teacher: ``name`` (its task's name; the teacher is the
            attribute ``teacher_<name>``), ``model`` (dict or config file), ``checkpoint``,
            ``keypoints`` (its task: union indices), ``teacher_keypoints`` (the teacher's
            output channel for each of them; default the same indices), ``feature`` (module
            path inside the teacher for common feature learning; default
            ``'backbone.final_layer:input'``), ``input_size`` ((w, h) of its input; default the
            student's crop).
        student_feature: the trunk's feature (the heads' input), a path from the distiller.
        head: the student's last 1x1 conv (path inside the student) the heads are merged into.
        kd: ``dict(mode='mse' | 'kl', tau=1.0)`` the per-head heatmap KD.
        kd_weight / mmd_weight / recon_weight: the terms' weights.
        common_channels: ``C_h`` of the common space (default: student feature width / 2).
        mmd_sigmas: the MMD kernel bandwidths.
        select: ``'none'``, ``'sample'`` or ``'keypoint'`` (module docstring).
        predict_with: ``'student'`` or a teacher's attribute name.
    """

    def __init__(self, student: dict | str, teachers: Sequence[Mapping],
                 student_feature: str = 'student.backbone.final_layer:input',
                 head: str = 'backbone.final_layer', kd: Mapping | None = None,
                 kd_weight: float = 1.0, mmd_weight: float = 1.0, recon_weight: float = 1.0,
                 common_channels: int | None = None,
                 mmd_sigmas: Sequence[float] = DEFAULT_SIGMAS, select: str = 'none',
                 predict_with: str = 'student', init_cfg: dict | None = None) -> None:
        super().__init__(predict_with=predict_with, init_cfg=init_cfg)
        if select not in SELECT_MODES:
            raise ConfigError(f'AmalgamationDistiller: select must be one of {SELECT_MODES}, '
                              f'got {select!r}')
        if not teachers:
            raise ConfigError('AmalgamationDistiller needs at least one teacher')
        self.student = self.build_student(student)
        self.head_path = head
        head_module = _resolve(self.student, head)
        if not isinstance(head_module, nn.Conv2d) or head_module.kernel_size != (1, 1):
            raise ConfigError(f"AmalgamationDistiller: head '{head}' must be the student's last "
                              f'1x1 Conv2d, got {type(head_module).__name__}')
        self.num_keypoints = head_module.out_channels
        self.select = select
        kd = dict(kd or {})
        self.kd_mode = kd.pop('mode', 'mse')
        self.kd_tau = float(kd.pop('tau', 1.0))
        if kd or self.kd_mode not in ('mse', 'kl'):
            raise ConfigError(f"AmalgamationDistiller: kd takes mode ('mse' | 'kl') and tau, "
                              f'got {dict(mode=self.kd_mode, **kd)}')
        self.kd_weight, self.mmd_weight = float(kd_weight), float(mmd_weight)
        self.recon_weight = float(recon_weight)
        self.sigmas = tuple(float(s) for s in mmd_sigmas)
        self.student_feature = student_feature
        self._s_norm = _normalisation(self.data_preprocessor)
        self.tasks: dict[str, dict] = {}
        for cfg in teachers:
            self._add_teacher(dict(cfg))
        specs = ['student.backbone', student_feature]
        specs += [t['feature'] for t in self.tasks.values()]
        self.record(specs)
        channels = self._probe_channels()
        self.task_heads = nn.ModuleDict()
        for name, task in self.tasks.items():
            conv = nn.Conv2d(channels[student_feature], len(task['keypoints']), 1)
            nn.init.normal_(conv.weight, std=0.001)
            nn.init.zeros_(conv.bias)
            self.task_heads[name] = conv
        self.common = None
        if self.mmd_weight > 0 or self.recon_weight > 0:
            width = channels[student_feature]
            self.common = CommonFeatureBlock(
                width, [channels[t['feature']] for t in self.tasks.values()],
                int(common_channels or max(8, width // 2)))

    # ------------------------------------------------------------------ building
    def _add_teacher(self, cfg: dict) -> None:
        name = str(cfg.pop('name', ''))
        if not name.isidentifier() or name in self.tasks:
            raise ConfigError(f"AmalgamationDistiller: every teacher needs a unique name that "
                              f"is a Python identifier, got '{name}'")
        attr = f'teacher_{name}'
        teacher = self.add_frozen_teacher(attr, cfg.pop('model'), cfg.pop('checkpoint', None))
        keypoints = check_task_keypoints({name: cfg.pop('keypoints')}, self.num_keypoints,
                                         'AmalgamationDistiller')[name]
        outputs = cfg.pop('teacher_keypoints', None)
        outputs = list(keypoints) if outputs is None else [int(i) for i in outputs]
        if len(outputs) != len(keypoints):
            raise ConfigError(f"AmalgamationDistiller: teacher '{name}' has {len(keypoints)} "
                              f'keypoints but {len(outputs)} teacher_keypoints')
        feature = cfg.pop('feature', 'backbone.final_layer:input')
        size = _size_hw(cfg.pop('input_size', None), f"teacher '{name}' input_size")
        if cfg:
            raise ConfigError(f"AmalgamationDistiller: teacher '{name}' has unknown keys "
                              f'{sorted(cfg)}')
        self.tasks[name] = dict(attr=attr, keypoints=keypoints, outputs=outputs,
                                feature=f'{attr}.{feature}', input_hw=size,
                                norm=_normalisation(getattr(teacher, 'data_preprocessor', None)))

    def _probe_channels(self) -> dict[str, int]:
        """Feature widths from one forward of a zero batch (eval mode, no gradient)."""
        decoder = getattr(getattr(self.student, 'head', None), 'decoder', None)
        size = getattr(decoder, 'input_size', None) or (64, 64)
        x = torch.zeros(2, 3, int(size[1]), int(size[0]))
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.no_grad(), self.recorder.recording():
                self.student(x, mode='tensor')
                for name in self.tasks:
                    self.teacher_maps(name, x)
                return {spec: int(self.recorder[spec].shape[1])
                        for spec in [self.student_feature] +
                        [t['feature'] for t in self.tasks.values()]}
        finally:
            self.student.train(was_training)
            self.recorder.clear()

    # ------------------------------------------------------------------ teachers
    def teacher_inputs(self, name: str, inputs: Tensor) -> Tensor:
        """The student's crop as teacher ``name`` expects it (its statistics and size)."""
        task = self.tasks[name]
        if task['norm'] is not None and self._s_norm is not None and task['norm'] != self._s_norm:
            s_pre = self.data_preprocessor
            t_pre = getattr(self, task['attr']).data_preprocessor
            inputs = renormalize(inputs, s_pre.mean, s_pre.std, t_pre.mean, t_pre.std)
        return resize_input(inputs, task['input_hw'])

    def teacher_maps(self, name: str, inputs: Tensor, grid: Sequence[int] | None = None
                     ) -> Tensor:
        """Teacher ``name``'s maps of its task's keypoints ``(B, K_task, h, w)`` (no gradient),
        resampled to ``grid`` in the student's frame when given."""
        teacher = getattr(self, self.tasks[name]['attr'])
        t_in = self.teacher_inputs(name, inputs)
        with torch.no_grad():
            maps = teacher.head.predict(teacher(t_in, mode='tensor')).float()
        maps = maps[:, self.tasks[name]['outputs']]
        if grid is not None and (tuple(maps.shape[-2:]) != tuple(grid)
                                 or t_in.shape[-2:] != inputs.shape[-2:]):
            maps = resample_to_student(maps, t_in.shape[-2:], inputs.shape[-2:], grid)
        return maps.detach()

    def known_keypoints(self, device: torch.device | None = None) -> Tensor:
        """``(T, K)`` bool: which teacher task knows which union keypoint."""
        known = torch.zeros(len(self.tasks), self.num_keypoints, dtype=torch.bool, device=device)
        for i, task in enumerate(self.tasks.values()):
            known[i, task['keypoints']] = True
        return known

    # ------------------------------------------------------------------ training
    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':  # label-free: no targets needed
            return self.loss(inputs, data_samples or {})
        return super().forward(inputs, data_samples, mode)

    def head_outputs(self, feature: Tensor) -> dict[str, Tensor]:
        """Every task head's maps ``(B, K_task, h, w)`` on the trunk's feature."""
        return {name: head(feature) for name, head in self.task_heads.items()}

    def targets(self, teacher_maps: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
        """Each task's KD target (its own teacher's maps, or the selected teacher's on shared
        keypoints) and the ``(B, K)`` chosen teacher index (-1: none)."""
        first = next(iter(teacher_maps.values()))
        batch, grid = first.shape[0], first.shape[-2:]
        known = self.known_keypoints(first.device)
        union = first.new_zeros(len(self.tasks), batch, self.num_keypoints, *grid)
        for i, (name, task) in enumerate(self.tasks.items()):
            union[i, :, task['keypoints']] = teacher_maps[name]
        if self.select == 'none':
            chosen = torch.full((batch, self.num_keypoints), -1, dtype=torch.long,
                                device=first.device)
            return dict(teacher_maps), chosen
        selected, chosen = select_targets(union, known, self.select)
        return ({name: selected[:, task['keypoints']] for name, task in self.tasks.items()},
                chosen)

    def kd_term(self, pred: Tensor, target: Tensor) -> Tensor:
        weights = torch.ones(pred.shape[:2], device=pred.device)
        if self.kd_mode == 'mse':
            return weighted_heatmap_mse(pred, target, weights)
        return weighted_heatmap_kl(pred, target, weights, self.kd_tau)

    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """``loss_kd`` (per-head KD, summed over tasks), ``loss_mmd``, ``loss_recon``; logged:
        ``kd_<task>`` each head's KD, ``chosen_<task>`` the share of shared keypoints taught by
        that task's teacher (selection modes)."""
        with self.recorder.recording():
            self.student(inputs, mode='tensor')
            feature = self.recorder[self.student_feature]
            preds = self.head_outputs(feature)
            grid = next(iter(preds.values())).shape[-2:]
            teacher_maps = {name: self.teacher_maps(name, inputs, grid) for name in self.tasks}
            teacher_feats = [self.recorder[t['feature']] for t in self.tasks.values()]
        targets, chosen = self.targets(teacher_maps)
        losses: dict[str, Tensor] = {}
        kd_total = feature.new_zeros(())
        for name in self.tasks:
            value = self.kd_term(preds[name], targets[name])
            kd_total = kd_total + value
            losses[f'kd_{name}'] = value.detach()
        losses['loss_kd'] = self.kd_weight * kd_total
        if self.common is not None:
            common_s, common_t, rebuilt, originals = self.common(feature, teacher_feats)
            mmd = sum(multi_kernel_mmd(common_s, h, self.sigmas) for h in common_t)
            recon = sum(reconstruction_mse(r, f) for r, f in zip(rebuilt, originals))
            losses['loss_mmd'] = self.mmd_weight * mmd
            losses['loss_recon'] = self.recon_weight * recon
        if self.select != 'none':
            shared = self.known_keypoints(chosen.device).sum(0) > 1
            if bool(shared.any()):
                picked = chosen[:, shared]
                for i, name in enumerate(self.tasks):
                    losses[f'chosen_{name}'] = as_float_tensor(
                        float((picked == i).float().mean()), feature)
        return losses

    # ------------------------------------------------------------------ the shipped student
    @torch.no_grad()
    def merge_heads(self) -> None:
        """Copy the task heads into the student's last conv: keypoint ``k``'s row is the mean
        of the rows of the heads that predict ``k`` (keypoints no task knows keep theirs)."""
        conv = _resolve(self.student, self.head_path)
        weight = torch.zeros_like(conv.weight)
        bias = torch.zeros_like(conv.bias) if conv.bias is not None else None
        count = torch.zeros(self.num_keypoints, device=weight.device)
        for name, task in self.tasks.items():
            head = self.task_heads[name]
            index = torch.tensor(task['keypoints'], device=weight.device)
            weight.index_add_(0, index, head.weight.to(weight.dtype))
            if bias is not None:
                bias.index_add_(0, index, head.bias.to(bias.dtype))
            count.index_add_(0, index, torch.ones(len(index), device=weight.device))
        covered = count > 0
        scale = count.clamp_min(1.0)
        conv.weight[covered] = (weight / scale[:, None, None, None])[covered]
        if bias is not None:
            conv.bias[covered] = (bias / scale)[covered]

    def student_predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list:
        self.merge_heads()
        return self.student.predict(inputs, data_samples)

    def prediction_targets(self) -> dict:
        targets = {'student': self.student_predict}
        targets.update({t['attr']: getattr(self, t['attr']).predict for t in self.tasks.values()
                        if t['input_hw'] is None})
        return targets

    def forward_tensor(self, inputs: Tensor) -> Any:
        self.merge_heads()
        return self.student(inputs, mode='tensor')

    def export_student(self, branch: int | None = None) -> tuple[dict[str, Tensor], dict]:
        """The plain student with the task heads merged into its last conv."""
        self.merge_heads()
        return super().export_student(branch)
