"""The distiller layer: models that own pose estimators and train one of them (the student).

A distiller is a registered mmengine model (``MODELS``), so ``tools/train.py``,
``tools/eval.py`` and ``tools/benchmark.py`` run a distiller config as they run any model. It
*owns* complete pose estimators (``TopdownPoseEstimator`` or anything with the same
``forward(inputs, data_samples, mode)`` / ``predict`` / ``head`` interface) instead of
re-implementing them, so the student keeps its data preprocessor, head, codec, flip test,
prediction path and metrics, and leaves as a plain checkpoint of that estimator
(:meth:`BaseDistiller.export_student`, ``tools/export_student.py``).

What the base class gives a method (OKDHP here, the offline teacher -> student methods on top):

* ``forward`` dispatch: ``'loss'`` -> :meth:`loss` (the method's own); ``'predict'`` -> the
  ``predict`` of the estimator named by ``predict_with`` (``'student'``, a teacher's name, or
  whatever :meth:`prediction_targets` offers, e.g. OKDHP's ``'ensemble'``); ``'tensor'`` ->
  :meth:`forward_tensor`.
* The student's data preprocessor as the distiller's (one normalisation for all).
* :meth:`record`: module outputs (or inputs) by dotted path through forward hooks
  (:class:`~poseforge.distillers.recorder.ModuleRecorder`); a wrong path is a config error
  naming it and the closest valid ones.
* :meth:`add_frozen_teacher`: a teacher from a config (dict or file) + checkpoint, in eval mode
  whatever the runner does, without gradients, and left out of the distiller's saved state
  unless asked (``keep_in_state_dict``): loading a distiller checkpoint without it keeps the
  teacher's own weights, strictly (the keys are filled from the live teacher).
* :meth:`training_progress`: epoch / iteration / their maxima from mmengine's message hub
  (what loss schedules such as OKDHP's ramp-up read; restored on ``--resume``).
* :meth:`export_student`: a plain estimator state dict + the model config that builds it.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Mapping

from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor, nn

from poseforge.distillers.recorder import ModuleRecorder
from poseforge.distillers.teacher import build_frozen_teacher, model_config
from poseforge.registry import MODELS


class BaseDistiller(BaseModel):
    """Base of every distiller; subclasses build their estimators and implement :meth:`loss`.

    Subclass recipe::

        @MODELS.register_module()
        class MyDistiller(BaseDistiller):
            def __init__(self, student, teacher, teacher_checkpoint, predict_with='student'):
                super().__init__(predict_with=predict_with)
                self.student = self.build_student(student)        # preprocessor shared
                self.add_frozen_teacher('teacher', teacher, teacher_checkpoint)
                self.record(['student.backbone', 'teacher.backbone'])   # after all modules

            def loss(self, inputs, data_samples):
                with self.recorder.recording():
                    losses = self.student(inputs, data_samples, mode='loss')
                    teacher_maps = self.teacher(inputs, mode='tensor')
                ...  # self.recorder['student.backbone'] etc.
                return losses

    Args:
        predict_with: which estimator ``mode='predict'`` (evaluation) runs; see
            :meth:`prediction_targets`.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, predict_with: str = 'student', init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=None, init_cfg=init_cfg)
        self.predict_with = predict_with
        self._student_cfg: dict | None = None
        self._frozen: dict[str, bool] = {}  # teacher attribute -> keep_in_state_dict
        self._recorder: ModuleRecorder | None = None
        self.register_state_dict_post_hook(_drop_frozen_teacher_state)
        self.register_load_state_dict_pre_hook(_fill_frozen_teacher_state)

    # ------------------------------------------------------------------ building
    def build_student(self, cfg: dict | str) -> nn.Module:
        """Build the student estimator from a model dict (or a config file), remember its config
        for export, and adopt its data preprocessor. Assign the result to an attribute."""
        self._student_cfg = model_config(cfg)
        student = MODELS.build(copy.deepcopy(self._student_cfg))
        self.adopt_data_preprocessor(student)
        return student

    def adopt_data_preprocessor(self, estimator: nn.Module) -> None:
        """Use ``estimator``'s data preprocessor as the distiller's (the same module)."""
        preprocessor = getattr(estimator, 'data_preprocessor', None)
        if preprocessor is None:
            raise TypeError(f'{type(estimator).__name__} has no data_preprocessor: a distiller '
                            'owns pose estimators (e.g. TopdownPoseEstimator)')
        self.data_preprocessor = preprocessor

    def add_frozen_teacher(self, name: str, model: str | dict | nn.Module,
                           checkpoint: str | None = None,
                           keep_in_state_dict: bool = False) -> nn.Module:
        """Build, load and freeze a teacher, and register it as attribute ``name``.

        Args:
            name: attribute name (module paths then start with it: ``'teacher.backbone'``).
            model: model dict, config file path (its ``model``), or a built module.
            checkpoint: the teacher's weights (a plain or mmengine checkpoint).
            keep_in_state_dict: also save the teacher in this distiller's checkpoints.
        """
        teacher = build_frozen_teacher(model, checkpoint)
        setattr(self, name, teacher)
        self._frozen[name] = keep_in_state_dict
        return teacher

    @property
    def frozen_teachers(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in self._frozen}

    def record(self, specs: Iterable[str]) -> ModuleRecorder:
        """Hook the modules named by ``specs`` (paths from this distiller, ``':input'`` for a
        module's input); call once all modules exist. Read them through :attr:`recorder`."""
        if self._recorder is not None:
            self._recorder.remove()
        self._recorder = ModuleRecorder(self, specs, owner=type(self).__name__)
        return self._recorder

    @property
    def recorder(self) -> ModuleRecorder:
        if self._recorder is None:
            raise RuntimeError(f'{type(self).__name__} records no module: call record() first')
        return self._recorder

    # ------------------------------------------------------------------ subclass API
    def loss(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """The method's losses (every key with ``loss`` in it is optimised, the rest logged)."""
        raise NotImplementedError

    def student_estimator(self, branch: int | None = None) -> nn.Module:
        """The estimator that ships (``branch`` is for distillers with several candidates)."""
        if branch not in (None, 0):
            raise ValueError(f'{type(self).__name__} has a single student (no branch {branch})')
        student = getattr(self, 'student', None)
        if student is None:
            raise NotImplementedError(f'{type(self).__name__} has no `student` attribute; '
                                      'override student_estimator()')
        return student

    def student_config(self, branch: int | None = None) -> dict:
        """The model dict that builds :meth:`student_estimator` as a plain model."""
        if self._student_cfg is None:
            raise NotImplementedError(f'{type(self).__name__}: build the student with '
                                      'build_student() or override student_config()')
        return copy.deepcopy(self._student_cfg)

    def prediction_targets(self) -> dict[str, Callable[[Tensor, Mapping | None], list]]:
        """``predict_with`` name -> ``predict(inputs, data_samples)``: the student and every
        frozen teacher by attribute name; subclasses add their own (OKDHP's ``'ensemble'``)."""
        targets = {'student': self.student_estimator().predict}
        targets.update({name: module.predict for name, module in self.frozen_teachers.items()
                        if hasattr(module, 'predict')})
        return targets

    def forward_tensor(self, inputs: Tensor) -> Any:
        """``mode='tensor'``: the student's raw output (subclasses return more)."""
        return self.student_estimator()(inputs, mode='tensor')

    # ------------------------------------------------------------------ mmengine model
    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None or 'heatmaps' not in data_samples:
                raise ValueError("mode='loss' needs data_samples with 'heatmaps' and "
                                 "'keypoint_weights'")
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.forward_tensor(inputs)
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """Evaluation through the ``predict_with`` estimator's own path (flip test, decoding,
        mapping to image pixels: whatever that estimator does)."""
        targets = self.prediction_targets()
        if self.predict_with not in targets:
            raise ValueError(f"{type(self).__name__}: predict_with='{self.predict_with}' is not "
                             f"one of {', '.join(targets)}")
        return targets[self.predict_with](inputs, data_samples)

    def train(self, mode: bool = True) -> 'BaseDistiller':
        """Frozen teachers stay in eval mode (BatchNorm keeps their running statistics)."""
        super().train(mode)
        for teacher in self.frozen_teachers.values():
            teacher.eval()
        return self

    def init_weights(self) -> None:
        """mmengine initialisation of everything but the frozen teachers (loaded weights)."""
        teachers = self.frozen_teachers.values()
        for teacher in teachers:
            teacher.is_init = True
        super().init_weights()

    # ------------------------------------------------------------------ export
    def export_student(self, branch: int | None = None) -> tuple[dict[str, Tensor], dict]:
        """``(state_dict, model_cfg)`` of the student as a plain estimator: ``MODELS.build(
        model_cfg).load_state_dict(state_dict, strict=True)`` rebuilds it exactly."""
        estimator = self.student_estimator(branch)
        state = {k: v.detach().clone() for k, v in estimator.state_dict().items()}
        return state, self.student_config(branch)

    # ------------------------------------------------------------------ progress
    @staticmethod
    def training_progress() -> dict[str, int]:
        """``epoch`` (0 during the first), ``iter``, ``max_epochs``, ``max_iters`` from the
        runner's message hub (mmengine's ``RuntimeInfoHook`` keeps them, checkpoints save them);
        zeros outside a runner."""
        hub = MessageHub.get_current_instance()
        return {key: int(hub.get_info(key, 0) or 0)
                for key in ('epoch', 'iter', 'max_epochs', 'max_iters')}


def with_backbone(estimator: nn.Module, backbone: nn.Module) -> nn.Module:
    """A shallow view of ``estimator`` whose ``backbone`` is ``backbone``: the same head, data
    preprocessor, test settings and prediction code, the same parameters (nothing copied).
    How a distiller evaluates something that is not itself an estimator (OKDHP's ensemble)
    through an estimator's own prediction path. Keep the view out of the module tree (store it
    in ``__dict__``) so its modules are not registered twice."""
    view = copy.copy(estimator)
    view._modules = dict(estimator._modules)
    view._modules['backbone'] = backbone
    return view


def _frozen_prefixes(module: BaseDistiller, prefix: str, saved_only: bool) -> list[str]:
    return [f'{prefix}{name}.' for name, keep in module._frozen.items()
            if not (saved_only and keep)]


def _drop_frozen_teacher_state(module: BaseDistiller, state_dict: dict, prefix: str,
                               local_metadata: dict) -> None:
    """state_dict post-hook: remove the frozen teachers' entries (unless kept)."""
    drop = tuple(_frozen_prefixes(module, prefix, saved_only=True))
    if not drop:
        return
    for key in [k for k in state_dict if k.startswith(drop)]:
        del state_dict[key]
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        for key in [k for k in metadata if (k + '.').startswith(drop)]:
            del metadata[key]


def _fill_frozen_teacher_state(module: BaseDistiller, state_dict: dict, prefix: str,
                               local_metadata: dict, strict: bool, missing_keys: list,
                               unexpected_keys: list, error_msgs: list) -> None:
    """load_state_dict pre-hook: a checkpoint saved without the teachers loads strictly, the
    teachers keeping the weights they were built with."""
    for name in module._frozen:
        for key, value in getattr(module, name).state_dict().items():
            state_dict.setdefault(f'{prefix}{name}.{key}', value)
