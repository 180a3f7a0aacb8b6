"""The minimal transform base class (mmcv's ``BaseTransform`` is not a dependency).

mmengine's ``Compose`` only needs a callable ``results -> results | None``; this base adds the
mmcv-style split (``__call__`` -> :meth:`transform`) and a ``__repr__`` listing the constructor
arguments, so a printed pipeline reads like its config.
"""
from __future__ import annotations

import inspect


class BaseTransform:
    """A pipeline step: ``transform(results) -> results`` (``None`` drops the sample)."""

    def __call__(self, results: dict) -> dict | None:
        return self.transform(results)

    def transform(self, results: dict) -> dict | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters.values()
        args = ', '.join(f'{p.name}={getattr(self, p.name)!r}' for p in params
                         if p.name != 'self' and p.kind is p.POSITIONAL_OR_KEYWORD
                         and hasattr(self, p.name))
        return f'{type(self).__name__}({args})'
