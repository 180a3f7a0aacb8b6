"""The minimal transform base class (mmcv's ``BaseTransform`` is not a dependency).

mmengine's ``Compose`` only needs a callable ``results -> results | None``; this base adds the
mmcv-style split (``__call__`` -> :meth:`transform`) and a ``__repr__`` listing the constructor
arguments, so a printed pipeline reads like its config.
"""
from __future__ import annotations

import inspect


class BaseTransform:
    """A pipeline step: ``transform(results) -> results`` (``None`` drops the sample).

    A subclass that defines ``transform`` gets it as its ``__call__`` too, set at class
    creation, unless a ``__call__`` other than this plain forwarding one is in force (its own
    or a base's): calling a step is then one Python call, not a ``__call__`` frame forwarding
    to ``transform`` (eight steps a sample on the data path). Replacing ``transform`` on a
    class afterwards therefore needs ``__call__`` replaced too.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if 'transform' not in cls.__dict__:
            return
        owner = next(k for k in cls.__mro__ if '__call__' in k.__dict__)
        if owner is BaseTransform or owner.__dict__['__call__'] is owner.__dict__.get('transform'):
            cls.__call__ = cls.__dict__['transform']

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
