"""KD tickets: iterative global magnitude pruning of the student, each round retrained by the teacher.

Lottery-ticket style pruning (Frankle & Carbin, ICLR 2019) in the KD-ticket form of Ma et al.
(arXiv 2101.03255): prune the smallest weights of the whole student by magnitude, retrain what
is left on the teacher's outputs, repeat. ``tools/prune_student.py`` drives the rounds; this
module holds the pieces:

* :func:`prunable_weights`: the weights that are pruned, the same set from a module and from a
  state dict: every ``Conv2d`` / ``Linear`` weight (tensors named ``*.weight`` with two or more
  dimensions; BatchNorm scales and biases are not pruned), minus names matching ``exclude``;
* :func:`global_magnitude_prune`: ``torch.nn.utils.prune.global_unstructured`` with
  ``L1Unstructured`` over that set, to a *total* sparsity. Weights already zero are the
  smallest, so pruning a checkpoint of round ``r-1`` to the sparsity of round ``r`` keeps its
  mask and removes the next smallest: iterative pruning with a rate ``p`` per round is
  ``sparsity_r = 1 - (1 - p)^r``;
* :class:`KDTicketPruningHook` (a runner hook): prunes the student to ``sparsity`` once the
  round's starting weights are loaded (``before_train``), keeps the masks during training
  (``torch.nn.utils.prune``'s reparametrisation: ``weight = weight_orig * weight_mask`` before
  every forward, so pruned weights stay 0 and get no gradient), writes every checkpoint with
  the masks applied (plain ``weight`` tensors with zeros: they load in any tool, resume re-derives
  the same mask) and makes the pruning permanent (``prune.remove``) after training. The
  exported student therefore holds the zeros in place: its sparsity is the fraction of zeros in
  the file (:func:`sparsity_of`).

Optional rewinding (``rewind_from``): after the mask is set, the surviving weights of the
student are reset to those of another checkpoint (lottery-ticket rewinding to an early point of
the dense distillation); by default the round continues from the previous round's weights.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Mapping, Sequence

import torch
from mmengine.hooks import Hook
from torch import Tensor, nn
from torch.nn.utils import prune

from poseforge.registry import HOOKS

PRUNABLE_TYPES = (nn.Conv2d, nn.Linear)


def _excluded(name: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) or re.search(pattern, name) is not None
               for pattern in exclude)


def prunable_weights(module: nn.Module, exclude: Sequence[str] = ()) -> list[tuple[str, nn.Module]]:
    """``[(name of the weight, its module)]``: every Conv2d / Linear ``weight`` of ``module``
    (already pruned ones included) whose name matches no ``exclude`` pattern (glob or regex)."""
    out = []
    for name, sub in module.named_modules():
        if isinstance(sub, PRUNABLE_TYPES):
            key = f'{name}.weight' if name else 'weight'
            if not _excluded(key, exclude):
                out.append((key, sub))
    return out


def prunable_keys(state: Mapping[str, Tensor], prefix: str = '',
                  exclude: Sequence[str] = ()) -> list[str]:
    """The same set from a (plain) state dict: keys under ``prefix`` ending in ``.weight`` with
    at least two dimensions (conv and linear weights), names relative to ``prefix`` tested
    against ``exclude``."""
    keys = []
    for key, value in state.items():
        if not key.startswith(prefix) or not key.endswith('.weight') or value.dim() < 2:
            continue
        if not _excluded(key[len(prefix):], exclude):
            keys.append(key)
    return keys


def sparsity_of(state: Mapping[str, Tensor], prefix: str = '',
                exclude: Sequence[str] = ()) -> dict:
    """Zero fraction of the prunable weights in a state dict: ``sparsity`` (over that set),
    ``zeros``, ``total``, and ``all_params_sparsity`` (zeros over every tensor under
    ``prefix``, BatchNorm and biases included)."""
    keys = prunable_keys(state, prefix, exclude)
    zeros = sum(int((state[k] == 0).sum()) for k in keys)
    total = sum(state[k].numel() for k in keys)
    every = [v for k, v in state.items() if k.startswith(prefix) and v.is_floating_point()]
    all_zeros = sum(int((v == 0).sum()) for v in every)
    all_total = sum(v.numel() for v in every)
    return dict(sparsity=zeros / max(total, 1), zeros=zeros, total=total,
                all_params_sparsity=all_zeros / max(all_total, 1))


def collapsed_layers(state: Mapping[str, Tensor], prefix: str = '',
                     exclude: Sequence[str] = ()) -> list[str]:
    """Prunable weights of a state dict that are entirely zero: layers global pruning removed
    whole. One global threshold ranks weights of differently scaled layers together, so a layer
    initialised small (a heatmap output conv drawn from N(0, 0.001), as mmpose's heads and
    :class:`~poseforge.models.backbones.mobilenet_v2.MobileNetV2Pose` do) can lose every weight
    at a moderate total sparsity, and the network's output with it. Lottery-ticket code keeps
    the output layer out of the pruned set for that reason (open_lth ignores ``fc.weight``):
    pass ``exclude``."""
    return [k for k in prunable_keys(state, prefix, exclude) if not bool(state[k].any())]


def global_magnitude_prune(module: nn.Module, sparsity: float,
                           exclude: Sequence[str] = ()) -> list[tuple[str, nn.Module]]:
    """Prune the ``sparsity`` fraction of smallest-magnitude prunable weights of ``module``,
    globally (one threshold for all layers); returns the pruned ``(name, module)`` pairs."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f'sparsity must be in [0, 1), got {sparsity}')
    params = prunable_weights(module, exclude)
    if not params:
        raise ValueError('no Conv2d / Linear weight to prune (check exclude=)')
    total = sum(m.weight.numel() for _, m in params)
    amount = int(round(sparsity * total))
    prune.global_unstructured([(m, 'weight') for _, m in params],
                              pruning_method=prune.L1Unstructured, amount=amount)
    return params


def make_permanent(module: nn.Module) -> int:
    """``prune.remove`` on every pruned weight of ``module`` (the zeros stay, the masks and
    ``weight_orig`` go); returns how many were made permanent."""
    count = 0
    for sub in module.modules():
        for hook in list(sub._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(sub, hook._tensor_name)
                count += 1
    return count


def apply_masks_to_state(state: dict) -> dict:
    """A state dict with ``x_orig`` / ``x_mask`` pairs replaced by ``x = x_orig * x_mask``
    (how a pruned model's checkpoint becomes a plain one), in key order."""
    out = {}
    for key, value in state.items():
        if key.endswith('_mask') and key[:-len('_mask')] + '_orig' in state:
            continue
        if key.endswith('_orig') and key[:-len('_orig')] + '_mask' in state:
            base = key[:-len('_orig')]
            out[base] = value * state[base + '_mask']
        else:
            out[key] = value
    return out


def rewind_weights(module: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Load ``state`` (a plain student state dict) into a pruned ``module``: pruned weights go
    to their ``weight_orig`` (the mask still applies), everything else as it is."""
    own = module.state_dict()
    renamed = {}
    for key, value in state.items():
        if key in own:
            renamed[key] = value
        elif key + '_orig' in own:  # 'x.weight' -> 'x.weight_orig'
            renamed[key + '_orig'] = value
    missing = [k for k in own if k not in renamed and not k.endswith('_mask')]
    if missing:
        raise ValueError(f'the rewind state lacks {len(missing)} student entries '
                         f'(e.g. {", ".join(missing[:3])})')
    module.load_state_dict({**own, **renamed}, strict=True)


def _student(model: nn.Module, attribute: str) -> nn.Module:
    model = getattr(model, 'module', model)  # DDP
    target = model.get_submodule(attribute) if attribute else model
    return target


@HOOKS.register_module()
class KDTicketPruningHook(Hook):
    """One round of KD-ticket pruning inside a training run (see the module docstring).

    Args:
        sparsity: the total sparsity of the student's prunable weights this round.
        student: the student's attribute path in the model (``'student'``; ``''`` prunes the
            whole model, for a plain estimator).
        exclude: weight names (relative to the student) not to prune, glob or regex.
        rewind_from: checkpoint whose student weights the survivors are reset to.
    """

    priority = 'HIGH'  # before the checkpoint hook and PortableCheckpointHook write anything

    def __init__(self, sparsity: float, student: str = 'student', exclude: Iterable[str] = (),
                 rewind_from: str | None = None) -> None:
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f'sparsity must be in [0, 1), got {sparsity}')
        self.sparsity = float(sparsity)
        self.student = student
        self.exclude = tuple(exclude)
        self.rewind_from = rewind_from

    def before_train(self, runner) -> None:
        student = _student(runner.model, self.student)
        global_magnitude_prune(student, self.sparsity, self.exclude)
        if self.rewind_from:
            from poseforge.engine.checkpoint import safe_load
            ckpt = safe_load(self.rewind_from, map_location='cpu')
            state = ckpt.get('state_dict', ckpt)
            prefix = f'{self.student}.' if self.student else ''
            rewind_weights(student, {k[len(prefix):]: v for k, v in state.items()
                                     if k.startswith(prefix)})
        runner.logger.info(f'KD ticket: pruned {self.sparsity:.1%} of the prunable weights of '
                           f"'{self.student or 'the model'}'"
                           + (f', rewound to {self.rewind_from}' if self.rewind_from else ''))
        dead = collapsed_layers(apply_masks_to_state(student.state_dict()), exclude=self.exclude)
        if dead:
            runner.logger.warning(f'KD ticket: {len(dead)} layer(s) pruned entirely, which no '
                                  f'retraining brings back: {", ".join(dead[:5])}'
                                  + (' ...' if len(dead) > 5 else '')
                                  + ' (exclude= keeps a layer, e.g. the heatmap output conv)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'state_dict' in checkpoint:
            checkpoint['state_dict'] = apply_masks_to_state(checkpoint['state_dict'])

    def after_train(self, runner) -> None:
        make_permanent(_student(runner.model, self.student))
