"""Read any module's output (or input) by its dotted path, through forward hooks.

Distillers compare what a student and a teacher compute inside: backbone stages, a head's
input, a stem. Naming those modules by path in a config (``'student.backbone.stem'``) and
recording them with forward hooks means no model has to return its intermediate tensors, and a
new pair is distilled without touching model code (mmrazor's recorders work the same way).

A path that does not resolve is a :class:`ModulePathError` (a config error) that names the
path, the deepest part of it that exists, and the closest valid paths.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from torch import nn

from poseforge.utils.config import ConfigError

#: ``'path:input'`` records the first positional input of the module instead of its output.
SOURCES = ('output', 'input')


class ModulePathError(ConfigError):
    """A module path in a distiller config does not name a module of the model."""


def module_paths(root: nn.Module) -> list[str]:
    """Every submodule path of ``root``, aliased (shared) modules under each of their names."""
    return [name for name, _ in root.named_modules(remove_duplicate=False) if name]


def closest_paths(path: str, root: nn.Module, n: int = 8) -> list[str]:
    """Up to ``n`` valid paths that look like ``path``: close string matches first, then the
    children of the deepest valid prefix (what the user most likely meant to continue with)."""
    same_depth = [p for p in module_paths(root) if p.count('.') == path.count('.')]
    hits = difflib.get_close_matches(path, same_depth, n=5, cutoff=0.6)
    prefix = deepest_valid_prefix(path, root)
    module = root.get_submodule(prefix) if prefix else root
    children = [f'{prefix}.{name}' if prefix else name for name, _ in module.named_children()]
    return list(dict.fromkeys(hits + children))[:n]


def deepest_valid_prefix(path: str, root: nn.Module) -> str:
    """The longest leading part of ``path`` that names a module of ``root`` (``''``: none)."""
    parts = path.split('.')
    for end in range(len(parts), 0, -1):
        prefix = '.'.join(parts[:end])
        try:
            root.get_submodule(prefix)
        except AttributeError:
            continue
        return prefix
    return ''


def resolve_module(root: nn.Module, path: str, owner: str = '') -> nn.Module:
    """``root.get_submodule(path)``, or a :class:`ModulePathError` naming the closest paths."""
    try:
        return root.get_submodule(path)
    except AttributeError:
        pass
    where = owner or type(root).__name__
    prefix = deepest_valid_prefix(path, root)
    found = f" ('{prefix}' exists)" if prefix else ''
    suggestions = closest_paths(path, root)
    hint = f" Closest valid paths: {', '.join(suggestions)}." if suggestions else ''
    raise ModulePathError(f"No module '{path}' in {where}{found}.{hint}")


def split_source(spec: str) -> tuple[str, str]:
    """``'a.b:input'`` -> ``('a.b', 'input')``; a bare path records the output."""
    path, _, source = spec.partition(':')
    source = source or 'output'
    if source not in SOURCES:
        raise ModulePathError(f"'{spec}': the part after ':' must be one of {SOURCES}")
    return path, source


class ModuleRecorder:
    """Records what named modules of ``root`` compute during a forward pass.

    ``recorder[spec]`` is the tensor (or whatever the module returned) of the latest forward
    inside :meth:`recording`; specs are module paths, optionally with ``':input'``. Hooks are
    registered at construction (resolving every path up front, so a typo fails when the model
    is built, not at the first iteration) and live as long as the recorder; they record only
    inside :meth:`recording`, so inference outside it keeps no references.

    Args:
        root: the module the paths are relative to (a distiller: ``'student.backbone.stem'``).
        specs: module paths (``'a.b'`` or ``'a.b:input'``).
        owner: how error messages name ``root`` (default: its class name).
    """

    def __init__(self, root: nn.Module, specs: Iterable[str], owner: str = '') -> None:
        self.specs = list(dict.fromkeys(specs))
        self._records: dict[str, Any] = {}
        self._active = False
        self._handles = []
        for spec in self.specs:
            path, source = split_source(spec)
            module = resolve_module(root, path, owner)
            self._handles.append(self._hook(module, spec, source))

    def _hook(self, module: nn.Module, spec: str, source: str):
        if source == 'input':
            def record_input(_module, args):
                if self._active:
                    self._records[spec] = args[0] if args else None
            return module.register_forward_pre_hook(record_input)

        def record_output(_module, _args, output):
            if self._active:
                self._records[spec] = output
        return module.register_forward_hook(record_output)

    @contextmanager
    def recording(self) -> Iterator['ModuleRecorder']:
        """Record inside the block (previous records are dropped on entry)."""
        self._records.clear()
        self._active = True
        try:
            yield self
        finally:
            self._active = False

    def __getitem__(self, spec: str) -> Any:
        if spec not in self._records:
            state = ('was not run in the last forward' if spec in self.specs
                     else 'is not one of the recorded paths ' + ', '.join(self.specs))
            raise KeyError(f"module '{spec}' {state}")
        return self._records[spec]

    def __contains__(self, spec: str) -> bool:
        return spec in self._records

    def clear(self) -> None:
        """Drop the records (and the tensors they keep alive)."""
        self._records.clear()

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._records.clear()
