"""Config keys checked against what the built objects take, before any work starts.

mmengine keeps any top-level key it does not know (``trian_cfg.max_epochs=1`` trains all the
epochs, silently), and a misspelt argument of a built class (``max_epoch``, ``batch_szie``,
``lrr``, ``data_roots``) ends in a ``TypeError`` traceback once the Runner builds it, possibly
after the data has loaded. :func:`key_problems` walks the whole config up front and returns
one line per problem: the key path and the closest valid names.

What is checked:

* top-level keys: those the Runner reads (:data:`RUNNER_KEYS`) are valid; a key written in the
  config file that is not one of them is a helper variable (``codec``, ``data_root``, ...)
  unless it looks like a misspelt runner key; a key that ``--cfg-options`` adds must be a
  runner key (helper variables have been used by the time options are merged).
* every dict with a ``type``: its keys against the parameters of the registered class or
  function (albumentations' classes inside ``PhotometricAug`` included). A class whose
  ``__init__`` takes ``**kwargs`` is followed up its MRO only where the source shows the
  kwargs going to ``super().__init__`` (or being popped by name); one that stores or passes
  them anywhere else accepts anything, so no valid config is refused.
* the type-less sections mmengine builds itself: ``train_cfg`` (the epoch or iteration loop),
  ``val_cfg``, ``test_cfg``, the three dataloaders, ``randomness``, ``auto_scale_lr``,
  ``env_cfg``.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Any, Callable, Iterator

from mmengine.registry import Registry

from poseforge.registry import close_names

#: Top-level keys mmengine's Runner (and poseforge's tools) read.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'runner_type', 'model_wrapper_cfg',
    'sync_bn', 'find_unused_parameters', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'compile', 'custom_imports', 'gpu_ids', 'vis_backends', 'strategy', 'cfg',
    # poseforge
    'load_strict',
})
#: A helper variable closer than this to a runner key is taken for a misspelling of it.
_TYPO_CUTOFF = 0.8

#: Keys mmengine's builders take out of a typed dict before calling the class.
_ALWAYS_ALLOWED = frozenset({'type', '_scope_'})
#: mmengine's dataloader builder pops these before ``DataLoader(**cfg)``.
_DATALOADER_EXTRAS = frozenset({'dataset', 'sampler', 'batch_sampler', 'collate_fn',
                                'worker_init_fn', 'num_batch_per_epoch',
                                'disable_subprocess_warning'})
#: Extras by the last component of the key path (builders that pop keys before building).
_EXTRAS_BY_PARENT = {
    'optim_wrapper': frozenset({'constructor', 'paramwise_cfg', 'optimizer'}),
    'param_scheduler': frozenset({'convert_to_iter_based'}),
}
#: Type-less dicts mmengine reads key by key.
_PLAIN_SECTIONS = {
    'randomness': frozenset({'seed', 'diff_rank_seed', 'deterministic'}),
    'auto_scale_lr': frozenset({'enable', 'base_batch_size'}),
    'env_cfg': frozenset({'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'}),
    'env_cfg.mp_cfg': frozenset({'mp_start_method', 'opencv_num_threads'}),
}


# --------------------------------------------------------------------------- signatures
_ANYTHING = None


def accepted_keywords(obj: Any) -> frozenset[str] | None:
    """The keyword arguments ``obj`` (a class or function) takes; ``None`` for "any"."""
    try:
        return _accepted_keywords(obj)
    except (TypeError, ValueError):  # no signature to read (a builtin): accept anything
        return _ANYTHING


@functools.lru_cache(maxsize=None)
def _accepted_keywords(obj: Any) -> frozenset[str] | None:
    if not inspect.isclass(obj):
        names, var_kw = _parameters(obj, skip_first=False)
        return _ANYTHING if var_kw else frozenset(names)
    names: set[str] = set()
    for klass in obj.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return frozenset(names)
        params, var_kw = _parameters(init, skip_first=True)
        names.update(params)
        if not var_kw or klass in _kwargs_sinks():
            return frozenset(names)
        use = _kwargs_use(init, var_kw)
        if use is _ANYTHING:
            return _ANYTHING
        popped, forwarded = use
        names.update(popped)
        if not forwarded:
            return frozenset(names)
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def _kwargs_sinks() -> frozenset[type]:
    """Classes whose ``**kwargs`` reach a call that takes no extra keyword: mmengine's
    ``CheckpointHook`` hands them to ``Runner.save_checkpoint`` next to every argument that
    takes, so any key there fails at the first save, an epoch into training."""
    from mmengine.hooks import CheckpointHook
    return frozenset({CheckpointHook})


def _parameters(func: Callable, skip_first: bool) -> tuple[list[str], str | None]:
    params = list(inspect.signature(func).parameters.values())
    if skip_first and params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD):
        params = params[1:]
    names = [p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                  inspect.Parameter.KEYWORD_ONLY)]
    var_kw = next((p.name for p in params if p.kind == inspect.Parameter.VAR_KEYWORD), None)
    return names, var_kw


def _kwargs_use(init: Callable, name: str):
    """How ``__init__`` uses its ``**name``: ``(popped names, forwarded to super)``, or
    :data:`_ANYTHING` when it is used in any other way (or the source cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return _ANYTHING
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    popped, forwarded = set(), False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == name
                and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.keyword) and parent.arg is None and _is_super_init(
                parents.get(parent)):
            forwarded = True
        elif (isinstance(parent, ast.Attribute) and parent.attr in ('pop', 'get', 'setdefault')
              and isinstance(parents.get(parent), ast.Call)
              and parents[parent].args and isinstance(parents[parent].args[0], ast.Constant)):
            popped.add(parents[parent].args[0].value)
        elif (isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant)):
            popped.add(parent.slice.value)
        elif isinstance(parent, ast.Compare):  # ``'key' in kwargs``
            continue
        else:
            return _ANYTHING
    return popped, forwarded


def _is_super_init(call: Any) -> bool:
    """``super().__init__(...)`` or ``SomeBase.__init__(self, ...)``."""
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return False
    if call.func.attr != '__init__':
        return False
    target = call.func.value
    return isinstance(target, ast.Name) or (
        isinstance(target, ast.Call) and isinstance(target.func, ast.Name)
        and target.func.id == 'super')


# --------------------------------------------------------------------------- type lookup
def resolve_type(type_name: str, registries: list[Registry]) -> list[Any]:
    """The objects registered as ``type_name`` in any of ``registries`` (a scope prefix such
    as ``poseforge.`` is ignored), else albumentations' class of that name."""
    bare = type_name.split('.')[-1]
    found = []
    for registry in registries:
        obj = registry.module_dict.get(bare)
        if obj is not None and obj not in found:
            found.append(obj)
    if not found:
        try:
            import albumentations as A
            obj = getattr(A, bare, None)
            if inspect.isclass(obj):
                found.append(obj)
        except ImportError:  # pragma: no cover - a declared dependency
            pass
    return found


def _loop_classes() -> dict[str, Any]:
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
    return dict(epoch=EpochBasedTrainLoop, iter=IterBasedTrainLoop, val_cfg=ValLoop,
                test_cfg=TestLoop)


# --------------------------------------------------------------------------- walking
def _problem(source: str, path: str, key: str, valid: set[str] | frozenset[str],
             owner: str) -> str:
    suggestions = close_names(key, sorted(valid), n=3)
    hint = (f"did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions
            else f"valid keys: {', '.join(sorted(valid)[:12])}"
            + (', ...' if len(valid) > 12 else ''))
    return f"{source}: unknown key '{path}' ({owner} does not take '{key}'); {hint}"


def _check_keys(node: dict, path: str, valid: set[str] | frozenset[str], owner: str,
                source: str) -> Iterator[str]:
    for key in node:
        if key not in valid:
            yield _problem(source, f'{path}.{key}' if path else key, key, valid, owner)


def _typed_node_problems(node: dict, path: str, source: str,
                         registries: list[Registry]) -> Iterator[str]:
    candidates = resolve_type(node['type'], registries)
    if not candidates:
        return  # unknown types are check_types' business
    accepted: set[str] = set()
    for obj in candidates:
        keywords = accepted_keywords(obj)
        if keywords is _ANYTHING:
            return
        accepted |= keywords
    parent = path.split('.')[-1].split('[')[0]
    valid = accepted | _ALWAYS_ALLOWED | _EXTRAS_BY_PARENT.get(parent, frozenset())
    if path.endswith('_dataloader.sampler') or path.endswith('_dataloader.batch_sampler'):
        valid |= {'dataset', 'seed', 'sampler', 'batch_size'}  # given by the builder
    yield from _check_keys(node, path, valid, node['type'], source)


def _section_problems(cfg: dict, source: str) -> Iterator[str]:
    loops = _loop_classes()
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict) and 'type' not in train_cfg:
        loop = loops['epoch' if train_cfg.get('by_epoch', False) else 'iter']
        valid = (accepted_keywords(loop) or frozenset()) | {'by_epoch'}
        valid -= {'runner', 'dataloader'}
        yield from _check_keys(train_cfg, 'train_cfg', valid, loop.__name__, source)
    for key in ('val_cfg', 'test_cfg'):
        section = cfg.get(key)
        if isinstance(section, dict) and 'type' not in section:
            valid = (accepted_keywords(loops[key]) or frozenset()) - {
                'runner', 'dataloader', 'evaluator'}
            yield from _check_keys(section, key, valid, loops[key].__name__, source)
    from torch.utils.data import DataLoader
    loader_keys = ((accepted_keywords(DataLoader) or frozenset()) | _DATALOADER_EXTRAS)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        section = cfg.get(key)
        if isinstance(section, dict) and 'type' not in section:
            yield from _check_keys(section, key, loader_keys, 'DataLoader', source)
    for path, valid in _PLAIN_SECTIONS.items():
        section = cfg
        for part in path.split('.'):
            section = section.get(part) if isinstance(section, dict) else None
        if isinstance(section, dict) and 'type' not in section:
            yield from _check_keys(section, path, valid, path, source)


def _walk_typed(node: Any, path: str = '') -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield path, node
        for key, value in node.items():
            yield from _walk_typed(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk_typed(value, f'{path}[{i}]')


def top_level_problems(cfg: dict, source: str, added_by_options: set[str] = frozenset()
                       ) -> Iterator[str]:
    """Unknown top-level keys (see the module docstring for the rule)."""
    for key in cfg:
        if key in RUNNER_KEYS or key.startswith('_'):
            continue
        if key in added_by_options:
            yield _problem(source, key, key, RUNNER_KEYS, 'the runner')
        elif close_names_strict(key):
            yield _problem(source, key, key, RUNNER_KEYS, 'the runner')


def close_names_strict(key: str) -> list[str]:
    """Runner keys so close to ``key`` that it must be a misspelling of one."""
    import difflib
    return difflib.get_close_matches(key, sorted(RUNNER_KEYS), n=3, cutoff=_TYPO_CUTOFF)


def key_problems(cfg: dict, source: str, registries: list[Registry],
                 added_by_options: set[str] = frozenset()) -> list[str]:
    """One line per unknown key in ``cfg`` (a plain dict), each with the closest valid names."""
    problems = list(top_level_problems(cfg, source, added_by_options))
    problems += list(_section_problems(cfg, source))
    for path, node in _walk_typed(cfg):
        problems += list(_typed_node_problems(node, path, source, registries))
    return problems
