"""Loading configs with errors that say what is wrong before any work starts.

mmengine resolves a config's ``type=`` names lazily, deep inside the Runner, after data may
already have been loaded; a typo then surfaces as a bare ``KeyError``. :func:`check_types` walks
the whole config up front and names the offending key path and the closest known names.
:func:`check_keys` does the same for keys: unknown top-level keys and arguments that the built
classes do not take (:mod:`poseforge.utils.config_keys`), one line per problem.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Iterator

import mmengine.registry as mm_registry
from mmengine.config import Config
from mmengine.registry import Registry

from poseforge import registry as pf_registry
from poseforge.registry import UnknownTypeError, close_names, registered_names


class ConfigError(ValueError):
    """A config file is missing or cannot be used."""


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Read ``path`` (``_base_`` inheritance resolved), merge ``cfg_options``, check types."""
    if not osp.isfile(path):
        raise ConfigError(f"Config file not found: '{path}'")
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # syntax errors, missing _base_ files, ...
        raise ConfigError(f"Cannot read config '{path}': {err}") from err
    defined = set(cfg.keys())
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.setdefault('default_scope', pf_registry.SCOPE)
    plain = cfg.to_dict()
    check_types(plain, source=path)
    check_keys(plain, source=path, added_by_options=set(plain) - defined - {'default_scope'})
    return cfg


def check_keys(cfg: dict, source: str = 'config', added_by_options: set[str] = frozenset()
               ) -> None:
    """Raise :class:`ConfigError` listing every unknown key, one line each (see
    :func:`poseforge.utils.config_keys.key_problems`)."""
    from poseforge.utils.config_keys import key_problems
    known_type_names()  # imports every registry's modules
    problems = key_problems(cfg, source, _all_registries(), added_by_options)
    if problems:
        raise ConfigError('\n'.join(problems))


def _all_registries() -> list[Registry]:
    roots = [v for v in vars(mm_registry).values() if isinstance(v, Registry)]
    return list(pf_registry.ALL_REGISTRIES) + roots


def known_type_names() -> set[str]:
    """Every name a ``type=`` may take: all registries in scope, plus albumentations' transforms
    (``PhotometricAug`` builds those itself)."""
    pf_registry.register_all_modules()
    names: set[str] = set()
    for reg in _all_registries():
        names.update(registered_names(reg))
    try:
        import albumentations as A
        names.update(n for n in dir(A) if n[:1].isupper())
    except ImportError:  # pragma: no cover - a declared dependency
        pass
    return names


def _typed_nodes(node: Any, path: str = '') -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield path or '<root>', node['type']
        for key, value in node.items():
            yield from _typed_nodes(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _typed_nodes(value, f'{path}[{i}]')


def check_types(cfg: dict, source: str = 'config') -> None:
    """Raise :class:`UnknownTypeError` for the first ``type`` no registry knows."""
    known = None
    for path, type_name in _typed_nodes(cfg):
        if known is None:
            known = known_type_names()
        bare = type_name.split('.', 1)[1] if type_name.startswith('poseforge.') else type_name
        if bare not in known:
            suggestions = close_names(type_name, sorted(known))
            hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ''
            raise UnknownTypeError(
                f"{source}: unknown type '{type_name}' at '{path}'.{hint}")
