"""The student leaves alone: a plain estimator checkpoint and the config that builds it.

``tools/export_student.py`` is the command line; :func:`export_student_files` does the work:
build the distiller from its config (teachers without their checkpoints: they are not
exported), load the distiller's checkpoint strictly, take
:meth:`~poseforge.distillers.base.BaseDistiller.export_student`, and write

* ``OUT.pth``: ``{'meta': {...}, 'state_dict': {...}}``, poseforge's (mmengine's) checkpoint
  layout, written atomically and loadable with ``weights_only=True``; ``meta`` keeps the
  training run's ``dataset_meta`` (what ``init_model`` and the demo read) and says where the
  student came from;
* ``OUT.py``: the distiller's config with ``model`` replaced by the student's model dict
  (data, pipelines, metrics and runtime unchanged), so ``tools/eval.py OUT.py OUT.pth``,
  ``init_model(OUT.py, OUT.pth)`` and ``tools/webcam_demo.py OUT.py OUT.pth`` treat it as any
  model, and ``tools/train.py OUT.py`` fine-tunes it alone.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from mmengine.config import Config
from mmengine.registry import init_default_scope

from poseforge.distillers.base import BaseDistiller
from poseforge.distillers.teacher import (key_summary, strip_wrapper_prefix,
                                          teacher_checkpoints_optional)
from poseforge.engine.checkpoint import atomic_torch_save, atomic_write_bytes, safe_load
from poseforge.registry import MODELS

#: Training-run keys of a checkpoint's ``meta`` worth keeping in the exported one.
KEPT_META = ('dataset_meta', 'epoch', 'iter', 'seed', 'experiment_name', 'time',
             'mmengine_version')


def build_distiller(cfg: Config) -> BaseDistiller:
    """Build ``cfg.model`` (teachers' checkpoints not read) and check it is a distiller."""
    init_default_scope(cfg.get('default_scope', 'poseforge'))
    with teacher_checkpoints_optional():
        model = MODELS.build(copy.deepcopy(cfg.model))
    if not isinstance(model, BaseDistiller):
        raise ValueError(f"the config's model is a {type(model).__name__}, not a distiller: its "
                         'checkpoints already are plain models (nothing to export)')
    return model


def load_distiller_checkpoint(model: BaseDistiller, checkpoint: str | os.PathLike) -> dict:
    """Load a training checkpoint into ``model`` strictly; returns the checkpoint's ``meta``."""
    ckpt = safe_load(checkpoint, map_location='cpu')
    state = strip_wrapper_prefix(ckpt.get('state_dict', ckpt))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise ValueError(f"Checkpoint '{os.fspath(checkpoint)}' does not fit the config's "
                         f'{type(model).__name__}: {key_summary(model, state)}') from None
    return dict(ckpt.get('meta') or {})


def student_checkpoint(model: BaseDistiller, branch: int | None = None,
                       source_meta: dict | None = None, source: str = '') -> tuple[dict, dict]:
    """``(checkpoint dict, student model dict)`` for ``model``'s student (``branch``)."""
    state, model_cfg = model.export_student(branch)
    meta: dict[str, Any] = {k: v for k, v in (source_meta or {}).items() if k in KEPT_META}
    meta['exported_from'] = dict(checkpoint=source, distiller=type(model).__name__,
                                 branch=-1 if branch is None else int(branch))
    return dict(meta=meta, state_dict=state), model_cfg


def student_config(cfg: Config, model_cfg: dict) -> Config:
    """The distiller's config with the student as ``model``, ready to load the export."""
    out = Config(copy.deepcopy(cfg.to_dict()))
    out.model = model_cfg
    out.load_from = None
    out.resume = False
    return out


def export_student_files(cfg: Config, checkpoint: str | os.PathLike, out: str | os.PathLike,
                         branch: int | None = None) -> tuple[Path, Path]:
    """Write the student's checkpoint at ``out`` and its config beside it (``.py``)."""
    out = Path(out)
    if out.suffix != '.pth':
        raise ValueError(f"--out must end in .pth (its config goes beside it), got '{out}'")
    model = build_distiller(cfg)
    meta = load_distiller_checkpoint(model, checkpoint)
    ckpt, model_cfg = student_checkpoint(model, branch, meta, os.fspath(checkpoint))
    config_path = out.with_suffix('.py')
    header = (f'# The student exported from {os.fspath(checkpoint)} '
              f'({type(model).__name__}, branch {"default" if branch is None else branch}) '
              'by tools/export_student.py.\n')
    text = header + student_config(cfg, model_cfg).pretty_text
    atomic_torch_save(ckpt, out)
    atomic_write_bytes(text.encode(), config_path)
    return out, config_path
