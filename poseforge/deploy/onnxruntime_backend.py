"""The onnxruntime backend: a top-down estimator whose heatmap network runs in onnxruntime.

:class:`OnnxRuntimeEstimator` is a :class:`~poseforge.models.estimators.TopdownPoseEstimator`
(same constructor arguments, same ``state_dict``) whose network pass (:meth:`_heatmaps`) runs
an ONNX session instead of the torch backbone. Everything around the network stays poseforge's:
``PoseDataPreprocessor`` normalises, the exact flip test averages in coordinates, the codec's vectorised
decoder turns heatmaps into keypoints, ``input_to_image`` maps them to image px. So a config
switches backends by its model ``type`` alone, and every tool that runs a config (the Runner in
``tools/eval.py``, :func:`poseforge.apis.init_model`, the demos) gets the backend for free.

Where the graph comes from:

* ``onnx_file``: an exported file (``tools/export_onnx.py``); the torch weights are unused.
* otherwise the estimator's own weights are exported in memory the first time it predicts, so
  the weights loaded after construction (``init_model``, the Runner's ``load_from``) are the
  ones exported.
"""
from __future__ import annotations

import json
import os
from typing import Mapping

import numpy as np
import torch
from torch import Tensor

from poseforge.deploy.onnx_export import (INPUT_NAME, DeployError, export_onnx_bytes,
                                          model_input_size, require)
from poseforge.models.estimators.topdown import TopdownPoseEstimator
from poseforge.registry import MODELS


class OrtSession:
    """An onnxruntime CPU session for a heatmap network (file path or serialised bytes).

    Fixed-batch models (exported without ``--dynamic-batch``) are run in chunks of their batch
    size, the last chunk zero-padded, so callers may pass any batch.

    Args:
        model: ``.onnx`` path or the model's bytes.
        num_threads: intra-op threads; ``None`` = torch's current setting, so one knob
            (``torch.set_num_threads``, ``--threads``) governs both backends.
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int | None = None) -> None:
        ort = require('onnxruntime')
        if not isinstance(model, bytes):
            model = os.fspath(model)
            if not os.path.isfile(model):
                raise FileNotFoundError(f"ONNX model not found: '{model}'")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(num_threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(model, options,
                                                providers=['CPUExecutionProvider'])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            name = 'the exported model' if isinstance(model, bytes) else f"'{model}'"
            raise DeployError(f'onnxruntime cannot load {name}: {err}') from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise DeployError(f'expected a model with one input, got {len(inputs)}')
        self.input_name = inputs[0].name
        batch = inputs[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k: json.loads(v) for k, v in meta.items()
                         if k in ('input_size', 'heatmap_size', 'num_keypoints', 'mean', 'std',
                                  'dynamic_batch')}

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Normalised images ``(B, 3, H, W)`` float32 -> heatmaps ``(B, K, h, w)`` float32."""
        return self.run_all(inputs)[0]

    def run_all(self, inputs: np.ndarray) -> list[np.ndarray]:
        """Every output of the model for ``inputs`` (chunked for a fixed batch size)."""
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        step = self.fixed_batch
        if step is None or len(inputs) == step:
            return self.session.run(None, {self.input_name: inputs})
        chunks = []
        for start in range(0, len(inputs), step):
            chunk = inputs[start:start + step]
            if len(chunk) < step:
                chunk = np.concatenate(
                    [chunk, np.zeros((step - len(chunk),) + chunk.shape[1:], np.float32)])
            chunks.append(self.session.run(None, {self.input_name: chunk}))
        return [np.concatenate(outs)[:len(inputs)] for outs in zip(*chunks)]


@MODELS.register_module()
class OnnxRuntimeEstimator(TopdownPoseEstimator):
    """A top-down estimator that runs its heatmap network in onnxruntime (module docstring).

    Args:
        onnx_file: exported model; ``None`` exports this estimator's weights on first use.
        num_threads: onnxruntime intra-op threads (``None``: torch's setting).
        **estimator: :class:`TopdownPoseEstimator`'s arguments (backbone, head, ...).
    """

    def __init__(self, onnx_file: str | None = None, num_threads: int | None = None,
                 **estimator) -> None:
        super().__init__(**estimator)
        self.onnx_file = onnx_file
        self.num_threads = num_threads
        self._session: OrtSession | None = None
        if onnx_file is not None:
            self._session = self._checked(OrtSession(onnx_file, num_threads))

    def _checked(self, session: OrtSession) -> OrtSession:
        size = session.metadata.get('input_size')
        if size is not None and tuple(size) != model_input_size(self):
            raise DeployError(f"'{self.onnx_file}' was exported for {tuple(size)} crops; this "
                              f'config crops {model_input_size(self)}')
        return session

    @property
    def session(self) -> OrtSession:
        """The onnxruntime session (exported from the current weights on first access)."""
        if self._session is None:
            self._session = OrtSession(export_onnx_bytes(self.eval(), dynamic_batch=True),
                                       self.num_threads)
        return self._session

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            raise RuntimeError('OnnxRuntimeEstimator is for inference: train the torch model '
                               '(type=TopdownPoseEstimator) and export it')
        if mode == 'tensor':
            return self._run(inputs)
        return super().forward(inputs, data_samples, mode)

    def _run(self, inputs: Tensor) -> Tensor:
        maps = self.session(inputs.detach().float().cpu().contiguous().numpy())
        return torch.from_numpy(maps).to(inputs.device)

    def _heatmaps(self, inputs: Tensor) -> Tensor:
        """One pass of the network, run by onnxruntime; prediction, decoding and the exact
        flip test are the torch estimator's."""
        return self._run(inputs).float()


def onnxruntime_model_cfg(model_cfg: Mapping, onnx_file: str | None = None,
                          num_threads: int | None = None) -> dict:
    """A config's ``model`` dict turned into the onnxruntime backend's (same other arguments).

    Raises :class:`DeployError` for a model that is not a ``TopdownPoseEstimator``.
    """
    cfg = dict(model_cfg)
    kind = cfg.get('type')
    if kind not in ('TopdownPoseEstimator', 'OnnxRuntimeEstimator'):
        raise DeployError(f"the onnxruntime backend runs top-down models (TopdownPoseEstimator); "
                          f"this config's model is '{kind}'")
    cfg.update(type='OnnxRuntimeEstimator', onnx_file=onnx_file, num_threads=num_threads)
    return cfg


BACKENDS = ('torch', 'onnxruntime')


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}': expected one of {', '.join(BACKENDS)}")
    return backend
