"""Export a top-down pose model's heatmap network to ONNX.

What goes into the graph is the network only: normalised images ``(B, 3, H, W)`` float32 in,
the head's final heatmaps ``(B, K, h, w)`` float32 out (what ``head.predict(backbone(x))``
returns). Normalisation and decoding stay in poseforge (``PoseDataPreprocessor`` and the codec's
vectorised ``batch_decode``), so the torch and onnxruntime backends share every step around the
network and differ only in how its convolutions are run.

The export uses ``torch.onnx.export(dynamo=True)`` (the torch.export-based exporter, default
since torch 2.9); models it cannot trace fall back to the TorchScript exporter with a warning.
The file carries ``metadata_props``: input size, heatmap size, keypoint count, normalisation
statistics and whether the batch axis is dynamic, so a session can check what it was given.
"""
from __future__ import annotations

import io
import json
import os
import warnings
from typing import Any, Sequence

import torch
from torch import nn

from poseforge.engine.checkpoint import atomic_write_bytes

#: Graph input / output names (the onnxruntime backend looks them up by these).
INPUT_NAME = 'input'
OUTPUT_NAME = 'heatmaps'
DEFAULT_OPSET = 18


class DeployError(RuntimeError):
    """An export or an onnxruntime session could not be made (message says why and what to do)."""


def require(module: str):
    """Import an optional ``.[deploy]`` dependency, or fail saying how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DeployError(f"'{module}' is not installed: pip install -e '.[deploy]' "
                          '(onnx, onnxruntime, onnxscript, onnxsim)') from None


class HeatmapNetwork(nn.Module):
    """``backbone`` then ``head.predict``: the part of a top-down estimator that is exported."""

    def __init__(self, estimator: nn.Module) -> None:
        super().__init__()
        self.backbone = estimator.backbone
        self.head = estimator.head

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head.predict(self.backbone(inputs)).float()


def model_input_size(model: nn.Module) -> tuple[int, int]:
    """The crop size ``(w, h)`` the model was built for: its codec's ``input_size`` (or, for a
    crop classifier without a codec, its own ``input_size``)."""
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    size = getattr(decoder, 'input_size', None) or getattr(model, 'input_size', None)
    if size is None:
        raise DeployError(f'{type(model).__name__}: no head.decoder.input_size; export needs a '
                          'top-down model whose head decodes heatmaps (TopdownPoseEstimator)')
    return int(size[0]), int(size[1])


def onnx_metadata(model: nn.Module, dynamic_batch: bool) -> dict[str, str]:
    """``metadata_props`` written into the file (strings, as ONNX requires)."""
    decoder = model.head.decoder
    pre = model.data_preprocessor
    meta = dict(producer='poseforge', input_size=list(model_input_size(model)),
                heatmap_size=list(getattr(decoder, 'heatmap_size', ())),
                num_keypoints=int(model.dataset_meta['num_keypoints'])
                if getattr(model, 'dataset_meta', None) else None,
                mean=pre.mean.flatten().tolist() if hasattr(pre, 'mean') else None,
                std=pre.std.flatten().tolist() if hasattr(pre, 'std') else None,
                dynamic_batch=bool(dynamic_batch))
    return {k: json.dumps(v) for k, v in meta.items() if v is not None}


def _quiet_exporter_logs() -> None:
    """The torch.export route logs a warning per torchvision op it cannot find (torchvision is
    not a dependency here); the networks exported use none of them."""
    import logging
    logging.getLogger('torch.onnx._internal.exporter._registration').setLevel(logging.ERROR)


def export_network_bytes(network: nn.Module, example: torch.Tensor,
                         output_names: Sequence[str] = (OUTPUT_NAME,),
                         dynamic_batch: bool = False, opset: int = DEFAULT_OPSET) -> bytes:
    """Serialised ONNX of ``network(example)`` with input :data:`INPUT_NAME` (module doc)."""
    _quiet_exporter_logs()
    output_names = list(output_names)
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = dict(input_names=[INPUT_NAME], output_names=output_names,
                                  opset_version=opset)
    try:
        if dynamic_batch:
            kwargs['dynamic_shapes'] = ({0: torch.export.Dim('batch', min=1, max=1024)},)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')
            program = torch.onnx.export(network, (example,), dynamo=True, verbose=False,
                                        **kwargs)
        program.save(buffer)
        return buffer.getvalue()
    except Exception as err:  # the torch.export route cannot trace this model: old exporter
        warnings.warn(f'dynamo ONNX export failed ({type(err).__name__}: {err}); '
                      'falling back to the TorchScript exporter')
    kwargs.pop('dynamic_shapes', None)
    if dynamic_batch:
        kwargs['dynamic_axes'] = {name: {0: 'batch'} for name in [INPUT_NAME] + output_names}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')
        torch.onnx.export(network, (example,), buffer, dynamo=False, **kwargs)
    return buffer.getvalue()


def simplify_onnx(data: bytes) -> bytes:
    """Constant folding and redundant-node removal with onnxsim (checked by it numerically)."""
    onnx = require('onnx')
    onnxsim = require('onnxsim')
    model, ok = onnxsim.simplify(onnx.load_from_string(data))
    if not ok:
        raise DeployError('onnxsim could not validate the simplified model; export without '
                          '--simplify')
    return model.SerializeToString()


def export_onnx_bytes(model: nn.Module, *, dynamic_batch: bool = False, batch_size: int = 1,
                      simplify: bool = False, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialised ONNX model of ``model``'s heatmap network (see the module docstring).

    Args:
        model: a top-down estimator (``backbone``, ``head`` with a ``decoder``).
        dynamic_batch: a dynamic batch axis (else the batch is fixed at ``batch_size``).
        batch_size: the traced (and, without ``dynamic_batch``, the only) batch size.
        simplify: run onnxsim on the result.
        opset: ONNX opset.
    """
    onnx = require('onnx')
    require('onnxscript')
    w, h = model_input_size(model)
    network = HeatmapNetwork(model).eval()
    # Trace with batch 2 when the batch is dynamic, so no size-1 specialisation sneaks in.
    example = torch.randn(max(batch_size, 2) if dynamic_batch else batch_size, 3, h, w)
    data = export_network_bytes(network, example, (OUTPUT_NAME,), dynamic_batch, opset)
    if simplify:
        data = simplify_onnx(data)
    proto = onnx.load_from_string(data)
    for key, value in onnx_metadata(model, dynamic_batch).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_onnx(model: nn.Module, out: str | os.PathLike, **kwargs: Any) -> str:
    """:func:`export_onnx_bytes` written atomically to ``out``; returns the path."""
    data = export_onnx_bytes(model, **kwargs)
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    atomic_write_bytes(data, out)
    return out


class DetectorNetwork(nn.Module):
    """A detector's ``network``: images in, its raw output maps out (``forward(mode='tensor')``)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t.float() for t in self.detector.network(inputs))


#: Output names of an exported ``CenterHandDetector``.
DETECTOR_OUTPUTS = ('heatmap_logits', 'box_maps')


def export_detector_bytes(detector: nn.Module, batch_size: int = 1,
                          opset: int = DEFAULT_OPSET) -> bytes:
    """Serialised ONNX of a ``CenterHandDetector``'s network at its input size (fixed batch).

    Decoding (peaks, top-k, boxes) stays in poseforge, as for the pose networks."""
    require('onnx')
    require('onnxscript')
    w, h = detector.input_size
    example = torch.randn(batch_size, 3, h, w)
    return export_network_bytes(DetectorNetwork(detector).eval(), example, DETECTOR_OUTPUTS,
                                False, opset)
