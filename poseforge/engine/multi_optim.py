"""``MultiOptimWrapperConstructor``: one optimiser per network of a multi-network model (GANs).

mmengine builds an :class:`~mmengine.optim.OptimWrapperDict` when the config's ``optim_wrapper``
names a constructor that returns one; this is that constructor (the role mmagic's constructor of
the same name plays for its GANs). Config::

    optim_wrapper = dict(
        constructor='MultiOptimWrapperConstructor',
        generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
        discriminator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
    )

Each key is a submodule of the model (``model.get_submodule(key)``, so dotted paths work); its
value is an ordinary optim-wrapper config (``type`` defaults to the top level's ``type`` when
there is one, else ``OptimWrapper``: ``tools/train.py --amp`` sets the top-level type, which so
reaches every network), built by mmengine's ``DefaultOptimWrapperConstructor`` (so
``paramwise_cfg`` works per network). The model's ``train_step`` decides which wrapper steps when;
checkpoints and ``--resume`` save and restore every optimiser (``OptimWrapperDict.state_dict``).
"""
from __future__ import annotations

import copy

from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmengine.registry import DefaultScope
from torch import nn

from poseforge.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['MultiOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Builds ``OptimWrapperDict(name=wrapper, ...)`` for the model's submodules ``name``."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        self.default_type = cfg.pop('type', None)
        if paramwise_cfg is not None:
            raise ValueError('MultiOptimWrapperConstructor: give paramwise_cfg inside each '
                             "network's entry, not at the top level")
        self.network_cfgs = {}
        for name, value in cfg.items():
            if not isinstance(value, dict) or 'optimizer' not in value:
                raise ValueError(f"MultiOptimWrapperConstructor: optim_wrapper['{name}'] must be "
                                 'an optim-wrapper config with an optimizer (one entry per '
                                 f'network), got {value!r}')
            self.network_cfgs[name] = value
        if not self.network_cfgs:
            raise ValueError('MultiOptimWrapperConstructor: no network listed in optim_wrapper')

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.network_cfgs.items():
            try:
                module = model.get_submodule(name)
            except AttributeError:
                children = [n for n, _ in model.named_children()]
                raise ValueError(f"MultiOptimWrapperConstructor: the model has no network "
                                 f"'{name}' (its networks: {children})") from None
            cfg = copy.deepcopy(cfg)
            cfg.setdefault('type', self.default_type or 'OptimWrapper')
            paramwise = cfg.pop('paramwise_cfg', None)
            # poseforge's wrapper types (bf16 autocast) also when built outside a Runner
            scope = DefaultScope.get_current_instance()
            with DefaultScope.overwrite_default_scope(scope.scope_name if scope else 'poseforge'):
                wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(module)
        return OptimWrapperDict(**wrappers)
