"""OKDHP: online knowledge distillation for human pose (Li et al., ICCV 2021).

One network trains several students at once and distils them into each other: the stem and
the first stacks of a stacked hourglass are shared, then ``num_branches`` branches each own
the last stacks; a Feature Aggregation Unit (:class:`FeatureAggregationUnit`) weighs the
branches per joint into an ensemble heatmap, the teacher of every output. At test time one
branch ships alone: a plain :class:`~poseforge.models.backbones.StackedHourglass` of the same
depth (``tools/export_student.py``).

How it sits on the distiller layer: every branch *is* a complete ``TopdownPoseEstimator``
built from the student config (``branches.<b>``), whose stem and first stacks are the same
module objects as branch 0's. Training runs the shared part once and each branch's own stacks
from there; evaluation and export use a branch estimator as it is, so its flip test, decoding
and state dict are those of a plain hourglass, and the exported checkpoint is that branch's
state dict unchanged.

The objective, as zhengli97/OKDHP ``lib/core/function_okd.py`` computes it, over *every*
output (the shared stacks' and each branch's stacks')::

    loss = sum_o MSE(o, gt) + kd_w * ramp(epoch) * sum_o KL(ensemble || o) + ens_w * MSE(ens, gt)

with the student head's loss as MSE (configs set ``KeypointMSELoss(loss_weight=0.5)``, the
authors' ``JointsMSELoss`` = 0.5 x the masked mean), :func:`joints_kl_loss` as KL, and
``ramp(t) = exp(-5 (1 - min(t, L)/L)^2)`` with the runner's epoch. The ensemble is not detached
by default (the KD term also trains the FAU and, through it, the branches), as in the code;
``detach_ensemble=True`` makes it a fixed target.

The ensemble is ``sum_b w_b * (branch b's last stack)``. The authors' code concatenates
``out[-3:]``, which is each branch's last stack only when every branch owns one stack: with
their published 2 stacks per branch it takes the second branch's last stack and both of the
third's, and the first branch never enters the ensemble. Here the last stack of every branch
is used, as the paper describes, whatever each branch owns (balanced or not).
"""
from __future__ import annotations

import copy
from typing import Mapping, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from poseforge.distillers.base import BaseDistiller, with_backbone
from poseforge.distillers.losses import as_float_tensor, joints_kl_loss, sigmoid_rampup
from poseforge.distillers.okdhp.fau import FeatureAggregationUnit
from poseforge.distillers.teacher import model_config
from poseforge.models.backbones.hourglass import run_stacks
from poseforge.registry import MODELS


class OKDHPOutputs(NamedTuple):
    """Everything one forward of the multi-branch network computes.

    Attributes:
        shared: heatmaps of each shared stack.
        branches: per branch, the heatmaps of each of its own stacks.
        ensemble: ``(B, K, h, w)`` FAU-weighted sum of the branches' last stacks.
        weights: ``(B, num_branches, K)`` the FAU's weights.
    """

    shared: list[Tensor]
    branches: list[list[Tensor]]
    ensemble: Tensor
    weights: Tensor


class _EnsembleBackbone(nn.Module):
    """A backbone whose output is the distiller's ensemble heatmap, so that a student
    estimator's own prediction path (flip test, decoding) evaluates the ensemble."""

    def __init__(self, distiller: 'OKDHPDistiller') -> None:
        super().__init__()
        self._owner = [distiller]  # a list, so that the distiller is not a submodule (a cycle)

    def forward(self, inputs: Tensor) -> list[Tensor]:
        return [self._owner[0].forward_branches(inputs).ensemble]


@MODELS.register_module()
class OKDHPDistiller(BaseDistiller):
    """Shared stacks, ``num_branches`` branches, FAU ensemble, online distillation.

    Args:
        student: the deployable model: a ``TopdownPoseEstimator`` dict whose backbone is a
            :class:`~poseforge.models.backbones.StackedHourglass` (or any backbone with
            ``forward_stem``, ``stem`` and a ``stacks`` list of stacks returning
            ``(heatmaps, next_input)``). Its ``num_stacks`` is the depth of branch
            ``student_branch``; the shared stacks are the first
            ``num_stacks - branch_stacks[student_branch]``.
        num_branches: branches (3).
        branch_stacks: stacks each branch owns: one int (balanced; the authors' 2) or one per
            branch (unbalanced: branches of different depth).
        fau: FAU settings: ``input`` (module path whose output it reads; default the stem,
            ``'branches.0.backbone.stem'``, as coded), ``mid_channels`` (64), ``kernel_sizes``
            ((3, 5, 7)), ``avg_pool`` (False; True adds the paper's average-pool path),
            ``in_channels`` (default: the backbone's ``channels``).
        kd_weight / ens_weight: ``kd_w`` (2.0) and ``ens_w`` (1.0).
        rampup_epochs: ``L`` of the ramp-up (90).
        detach_ensemble: stop the gradient of the KD target (the authors do not).
        student_branch: the branch that ships by default (``export_student``, ``predict_with=
            'student'``).
        predict_with: ``'student'``, ``'ensemble'`` or ``'branch<i>'``.
    """

    def __init__(self, student: dict | str, num_branches: int = 3,
                 branch_stacks: int | Sequence[int] = 2, fau: dict | None = None,
                 kd_weight: float = 2.0, ens_weight: float = 1.0, rampup_epochs: float = 90,
                 detach_ensemble: bool = False, student_branch: int = 0,
                 predict_with: str = 'student', init_cfg: dict | None = None) -> None:
        super().__init__(predict_with=predict_with, init_cfg=init_cfg)
        student_cfg = model_config(student)
        self.num_branches = int(num_branches)
        self.branch_stacks = self._branch_stacks(branch_stacks, self.num_branches)
        if not 0 <= student_branch < self.num_branches:
            raise ValueError(f'student_branch {student_branch} is not one of the '
                             f'{self.num_branches} branches')
        self.student_branch = student_branch
        depth = student_cfg['backbone'].get('num_stacks', 2)
        self.num_shared_stacks = depth - self.branch_stacks[student_branch]
        if self.num_shared_stacks < 0:
            raise ValueError(f'the student has {depth} stacks but branch {student_branch} owns '
                             f'{self.branch_stacks[student_branch]}')
        self._branch_cfgs = [self._branch_config(student_cfg, b) for b in range(num_branches)]
        self.branches = nn.ModuleList(MODELS.build(copy.deepcopy(c)) for c in self._branch_cfgs)
        self._share_trunk()
        self.adopt_data_preprocessor(self.branches[0])

        fau = dict(fau or {})
        self.fau_input = fau.pop('input', 'branches.0.backbone.stem')
        fau.setdefault('in_channels', student_cfg['backbone'].get('channels', 256))
        self.fau = FeatureAggregationUnit(num_branches=self.num_branches,
                                          num_keypoints=self._num_keypoints(), **fau)
        self.record([self.fau_input])
        self.kd_weight = float(kd_weight)
        self.ens_weight = float(ens_weight)
        self.rampup_epochs = float(rampup_epochs)
        self.detach_ensemble = detach_ensemble

    # ------------------------------------------------------------------ building
    @staticmethod
    def _branch_stacks(branch_stacks: int | Sequence[int], num_branches: int) -> list[int]:
        if num_branches < 2:
            raise ValueError(f'OKDHP needs at least 2 branches, got {num_branches}')
        stacks = ([int(branch_stacks)] * num_branches if isinstance(branch_stacks, int)
                  else [int(s) for s in branch_stacks])
        if len(stacks) != num_branches or min(stacks) < 1:
            raise ValueError(f'branch_stacks must be a positive int or {num_branches} positive '
                             f'ints, got {branch_stacks!r}')
        return stacks

    def _branch_config(self, student_cfg: dict, branch: int) -> dict:
        cfg = copy.deepcopy(student_cfg)
        cfg['backbone']['num_stacks'] = self.num_shared_stacks + self.branch_stacks[branch]
        return cfg

    def _share_trunk(self) -> None:
        """Make every branch's stem and first stacks branch 0's modules (shared weights)."""
        trunk = self.branches[0].backbone
        for name in ('stem', 'stacks', 'forward_stem'):
            if not hasattr(trunk, name):
                raise TypeError(f'OKDHPDistiller needs a stacked backbone with `stem`, `stacks` '
                                f'and `forward_stem` (StackedHourglass), got '
                                f'{type(trunk).__name__}')
        for branch in self.branches[1:]:
            branch.backbone.stem = trunk.stem
            for i in range(self.num_shared_stacks):
                branch.backbone.stacks[i] = trunk.stacks[i]
            branch.data_preprocessor = self.branches[0].data_preprocessor

    def _num_keypoints(self) -> int:
        backbone = self.branches[0].backbone
        return int(getattr(backbone, 'num_keypoints', None) or
                   self._branch_cfgs[0]['backbone']['num_keypoints'])

    # ------------------------------------------------------------------ forward
    def forward_branches(self, inputs: Tensor) -> OKDHPOutputs:
        """Stem and shared stacks once, then each branch's own stacks; the FAU ensemble."""
        trunk = self.branches[0].backbone
        shared_count = self.num_shared_stacks
        with self.recorder.recording():
            x = trunk.forward_stem(inputs)
            shared, x = run_stacks(trunk.stacks[:shared_count], x)
            branches = [run_stacks(branch.backbone.stacks[shared_count:], x)[0]
                        for branch in self.branches]
            weights = self.fau(self.recorder[self.fau_input])
        ensemble = FeatureAggregationUnit.aggregate(weights, [outs[-1] for outs in branches])
        return OKDHPOutputs(shared, branches, ensemble, weights)

    def forward_tensor(self, inputs: Tensor) -> OKDHPOutputs:
        return self.forward_branches(inputs)

    def kd_ramp(self) -> float:
        """``ramp(epoch)`` for the runner's current epoch."""
        return sigmoid_rampup(self.training_progress()['epoch'], self.rampup_epochs)

    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """``loss_shared`` (shared stacks), ``loss_branch<b>`` (each branch's stacks),
        ``loss_kd`` and ``loss_ens`` (their sum is the authors' objective); logged too:
        ``kd_kl`` (the unweighted KL sum), ``kd_ramp``, ``acc_branch<b>``, ``acc_ens``."""
        target = data_samples['heatmaps']
        weights = data_samples.get('keypoint_weights')
        out = self.forward_branches(inputs)
        student_head = self.branches[self.student_branch].head
        losses: dict[str, Tensor] = {}
        if out.shared:
            losses['loss_shared'] = student_head.loss(out.shared, target, weights)['loss_kpt']
        for b, (branch, outputs) in enumerate(zip(self.branches, out.branches)):
            branch_losses = branch.head.loss(outputs, target, weights)
            losses[f'loss_branch{b}'] = branch_losses['loss_kpt']
            if 'acc_pose' in branch_losses:
                losses[f'acc_branch{b}'] = branch_losses['acc_pose']
        teacher = out.ensemble.detach() if self.detach_ensemble else out.ensemble
        every_output = out.shared + [o for outputs in out.branches for o in outputs]
        kl = sum(joints_kl_loss(o, teacher, weights) for o in every_output)
        ramp = self.kd_ramp()
        losses['loss_kd'] = self.kd_weight * ramp * kl
        ensemble_losses = student_head.loss([out.ensemble], target, weights)
        losses['loss_ens'] = self.ens_weight * ensemble_losses['loss_kpt']
        if 'acc_pose' in ensemble_losses:
            losses['acc_ens'] = ensemble_losses['acc_pose']
        losses['kd_kl'] = kl.detach()
        losses['kd_ramp'] = as_float_tensor(ramp, kl)
        return losses

    # ------------------------------------------------------------------ predict / export
    def student_estimator(self, branch: int | None = None) -> nn.Module:
        branch = self.student_branch if branch is None else int(branch)
        if not 0 <= branch < self.num_branches:
            raise ValueError(f'branch {branch} is not one of the {self.num_branches} branches')
        return self.branches[branch]

    def student_config(self, branch: int | None = None) -> dict:
        branch = self.student_branch if branch is None else int(branch)
        return copy.deepcopy(self._branch_cfgs[branch])

    def ensemble_estimator(self) -> nn.Module:
        """The student estimator with the ensemble as its backbone (not a submodule)."""
        view = self.__dict__.get('_ensemble_view')
        if view is None:
            view = with_backbone(self.branches[self.student_branch], _EnsembleBackbone(self))
            self.__dict__['_ensemble_view'] = view
        return view

    def prediction_targets(self) -> dict:
        targets = {'student': self.student_estimator().predict,
                   'ensemble': self.ensemble_estimator().predict}
        targets.update({f'branch{b}': branch.predict for b, branch in enumerate(self.branches)})
        return targets

    @torch.no_grad()
    def branch_heatmaps(self, inputs: Tensor, branch: int | None = None) -> Tensor:
        """Last-stack heatmaps of ``branch`` computed through the multi-branch forward."""
        branch = self.student_branch if branch is None else branch
        return self.forward_branches(inputs).branches[branch][-1]
