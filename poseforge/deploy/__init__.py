"""Deployment: ONNX export of top-down heatmap networks and the onnxruntime backend.

onnx / onnxruntime / onnxscript (and onnxsim for ``--simplify``) are the optional
``.[deploy]`` extra: importing this package needs none of them; using the functions that do
raises :class:`DeployError` saying how to install them.
"""
from .onnx_export import (DeployError, DetectorNetwork, HeatmapNetwork, export_detector_bytes,
                          export_onnx, export_onnx_bytes, model_input_size)
from .onnxruntime_backend import (BACKENDS, OnnxRuntimeEstimator, OrtSession, check_backend,
                                  onnxruntime_model_cfg)
from .predictor import TopdownBatchPredictor

__all__ = ['BACKENDS', 'DeployError', 'DetectorNetwork', 'HeatmapNetwork', 'export_detector_bytes', 'OnnxRuntimeEstimator', 'OrtSession',
           'TopdownBatchPredictor', 'check_backend', 'export_onnx', 'export_onnx_bytes',
           'model_input_size', 'onnxruntime_model_cfg']
