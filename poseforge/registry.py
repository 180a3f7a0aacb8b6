"""poseforge's registries.

Every registry is a child of the matching mmengine root registry, in the ``poseforge`` scope,
so that a config's ``type='CPM'`` resolves both when poseforge builds an object itself and
when mmengine's :class:`~mmengine.runner.Runner` builds it (with ``default_scope='poseforge'``).

Registration happens on import of the module that defines a class; ``locations`` tells mmengine
which modules to import lazily, so building from a bare registry works without importing the
whole package first (``import poseforge`` itself imports nothing heavy).
:func:`register_all_modules` imports every location at once.

An unknown ``type`` fails with the close names the registry does know, rather than mmengine's
bare "not in the registry" message (see :func:`build_with_suggestions`).
"""
from __future__ import annotations

import difflib
from typing import Any

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry, build_from_cfg

SCOPE = 'poseforge'


class UnknownTypeError(KeyError):
    """A config names a ``type`` that no registry in scope knows."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead
        return str(self.args[0])


def close_names(name: str, known: list[str], n: int = 5) -> list[str]:
    """Known names that look like ``name`` (case-insensitive), best first."""
    lowered = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def registered_names(registry: Registry) -> list[str]:
    """Names registered in ``registry`` and in its parents (mmengine's own types included)."""
    registry.import_from_location()
    names = set(registry.module_dict)
    parent = registry.parent
    while parent is not None:
        parent.import_from_location()
        names.update(parent.module_dict)
        parent = parent.parent
    return sorted(names)


def unknown_type_message(type_name: str, registry: Registry, where: str = '') -> str:
    """The message for a ``type`` that ``registry`` does not know, with suggestions."""
    suggestions = close_names(type_name, registered_names(registry))
    location = f' (at {where})' if where else ''
    hint = (f" Did you mean: {', '.join(suggestions)}?" if suggestions else
            ' No registered name is close to it.')
    return (f"Unknown {registry.name} type '{type_name}'{location} in the '{registry.scope}' "
            f'registry.{hint}')


def build_with_suggestions(cfg: Any, registry: Registry, default_args: dict | None = None):
    """mmengine's ``build_from_cfg``, with close-name suggestions for an unknown ``type``."""
    obj_type = cfg.get('type') if isinstance(cfg, dict) else None
    if isinstance(obj_type, str):
        registry.import_from_location()
        if registry.get(obj_type) is None:
            raise UnknownTypeError(unknown_type_message(obj_type, registry))
    return build_from_cfg(cfg, registry, default_args)


def _child(parent: Registry, name: str, *locations: str) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=list(locations),
                    build_func=build_with_suggestions)


# The onnxruntime backend's estimator lives with the export code (poseforge.deploy); distillers
# (models that own models) in their own layer.
MODELS = _child(MMENGINE_MODELS, 'model', 'poseforge.models', 'poseforge.deploy',
                'poseforge.distillers')
DATASETS = _child(MMENGINE_DATASETS, 'dataset', 'poseforge.datasets')
TRANSFORMS = _child(MMENGINE_TRANSFORMS, 'transform', 'poseforge.datasets.transforms',
                    'poseforge.distillers.amalgamation.tasks')
METRICS = _child(MMENGINE_METRICS, 'metric', 'poseforge.evaluation.metrics',
                 'poseforge.distillers.amalgamation.tasks')
EVALUATORS = _child(MMENGINE_EVALUATOR, 'evaluator', 'poseforge.evaluation')
# NSRM's LimbWeightDecayHook lives with its model (poseforge.models.nsrm), the KD-ticket
# pruning hook with the distillers.
HOOKS = _child(MMENGINE_HOOKS, 'hook', 'poseforge.engine', 'poseforge.models.nsrm',
               'poseforge.distillers.kd.pruning')
FUNCTIONS = _child(MMENGINE_FUNCTIONS, 'function', 'poseforge.datasets')
DATA_SAMPLERS = _child(MMENGINE_DATA_SAMPLERS, 'data sampler', 'poseforge.datasets')
LOOPS = _child(MMENGINE_LOOPS, 'loop', 'poseforge.engine')
OPTIM_WRAPPERS = _child(MMENGINE_OPTIM_WRAPPERS, 'optim wrapper', 'poseforge.engine')
PARAM_SCHEDULERS = _child(MMENGINE_PARAM_SCHEDULERS, 'param scheduler', 'poseforge.engine')
VISBACKENDS = _child(MMENGINE_VISBACKENDS, 'vis backend', 'poseforge.visualization')
RUNNERS = _child(MMENGINE_RUNNERS, 'runner', 'poseforge.engine')
# Children with nothing of poseforge's in them yet: they exist so that mmengine, building with
# default_scope='poseforge', finds a poseforge registry instead of warning that it fell back.
OPTIMIZERS = _child(MMENGINE_OPTIMIZERS, 'optimizer', 'poseforge.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'optimizer wrapper constructor', 'poseforge.engine')
LOG_PROCESSORS = _child(MMENGINE_LOG_PROCESSORS, 'log_processor', 'poseforge.engine')
VISUALIZERS = _child(MMENGINE_VISUALIZERS, 'visualizer', 'poseforge.visualization')
MODEL_WRAPPERS = _child(MMENGINE_MODEL_WRAPPERS, 'model_wrapper', 'poseforge.engine')
WEIGHT_INITIALIZERS = _child(MMENGINE_WEIGHT_INITIALIZERS, 'weight initializer',
                             'poseforge.models')

#: Keypoint codecs (target encoding / prediction decoding); poseforge's own root registry.
KEYPOINT_CODECS = Registry('keypoint codec', scope=SCOPE, locations=['poseforge.codecs'],
                           build_func=build_with_suggestions)

ALL_REGISTRIES: tuple[Registry, ...] = (
    MODELS, DATASETS, TRANSFORMS, METRICS, EVALUATORS, HOOKS, FUNCTIONS, DATA_SAMPLERS, LOOPS,
    OPTIM_WRAPPERS, PARAM_SCHEDULERS, VISBACKENDS, RUNNERS, OPTIMIZERS, OPTIM_WRAPPER_CONSTRUCTORS,
    LOG_PROCESSORS, VISUALIZERS, MODEL_WRAPPERS, WEIGHT_INITIALIZERS, KEYPOINT_CODECS)


def register_all_modules() -> None:
    """Import the modules behind every registry (their ``locations``), registering everything.

    Building from a config needs no call: each registry imports its own locations on first use.
    This is for listing every known name at once (config checks, suggestions).
    """
    for registry in ALL_REGISTRIES:
        registry.import_from_location()
