"""ONNX export and the onnxruntime backend: the exported network matches torch on the same crops
(heatmaps to 1e-4, decoded keypoints to 1e-3 px) through every entry point that selects it."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import QUICKSTART_CONFIG, as_cli, tiny_cfg_options

import export_onnx

from poseforge.apis import inference_topdown, init_model
from poseforge.deploy import (DeployError, OrtSession, TopdownBatchPredictor,
                              export_onnx_bytes)
from poseforge.deploy.onnx_export import require


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('deploy') / 'cpm.pth'
    torch.save({'state_dict': init_model(QUICKSTART_CONFIG).state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def onnx_file(checkpoint) -> str:
    out = checkpoint.replace('.pth', '.onnx')
    assert export_onnx.main([QUICKSTART_CONFIG, checkpoint, '--out', out,
                             '--dynamic-batch']) == 0
    return out


def _frame_and_boxes(tiny_synth):
    ann = json.loads((tiny_synth / 'annotations' / 'test.json').read_text())
    path = tiny_synth / 'images' / 'test' / ann['images'][0]['file_name']
    x, y, w, h = ann['annotations'][0]['bbox']
    frame = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    boxes = np.array([[x, y, x + w, y + h], [0, 0, 64, 64], [30, 20, 120, 110]], np.float32)
    return frame, boxes


def test_onnxruntime_matches_torch_on_the_same_crops(onnx_file, checkpoint, tiny_synth):
    frame, boxes = _frame_and_boxes(tiny_synth)
    torch_model = init_model(QUICKSTART_CONFIG, checkpoint)
    ort_model = init_model(QUICKSTART_CONFIG, onnx_file, backend='onnxruntime')
    assert type(ort_model).__name__ == 'OnnxRuntimeEstimator'
    ref = TopdownBatchPredictor(torch_model)(frame, boxes, return_heatmaps=True)
    got = TopdownBatchPredictor(ort_model)(frame, boxes, return_heatmaps=True)
    assert got['heatmaps'].shape == ref['heatmaps'].shape == (3, 21, 16, 16)
    np.testing.assert_allclose(got['heatmaps'], ref['heatmaps'], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got['keypoints'], ref['keypoints'], atol=1e-3, rtol=0)
    np.testing.assert_allclose(got['keypoint_scores'], ref['keypoint_scores'], atol=1e-4)
    # the batched predictor's crops are inference_topdown's (the config's test pipeline)
    single = inference_topdown(torch_model, frame, boxes)
    np.testing.assert_allclose(ref['keypoints'], np.stack([r['keypoints'] for r in single]),
                               atol=1e-3)


def test_checkpoint_exported_in_memory_and_fixed_batch_files(checkpoint, tiny_synth, tmp_path):
    frame, boxes = _frame_and_boxes(tiny_synth)
    torch_model = init_model(QUICKSTART_CONFIG, checkpoint)
    from_pth = init_model(QUICKSTART_CONFIG, checkpoint, backend='onnxruntime')
    ref = inference_topdown(torch_model, frame, boxes)
    got = inference_topdown(from_pth, frame, boxes)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g['keypoints'], r['keypoints'], atol=1e-3, rtol=0)
    # a fixed batch of 2, simplified: any batch still runs (chunks, zero-padded)
    out = tmp_path / 'fixed.onnx'
    assert export_onnx.main([QUICKSTART_CONFIG, checkpoint, '--out', str(out),
                             '--batch-size', '2', '--simplify']) == 0
    session = OrtSession(out)
    assert session.fixed_batch == 2 and session.metadata['input_size'] == [128, 128]
    crops = torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        expected = torch_model.head.predict(torch_model.backbone(crops)).numpy()
    np.testing.assert_allclose(session(crops.numpy()), expected, atol=1e-4, rtol=0)


def test_eval_tool_onnxruntime_backend_gives_torch_metrics(onnx_file, checkpoint, tiny_synth,
                                                           tmp_path):
    import eval as eval_tool
    opts = as_cli(tiny_cfg_options(tiny_synth, **{'test_dataloader.dataset.indices': 6}))
    ref = eval_tool.main([QUICKSTART_CONFIG, checkpoint, '--work-dir', str(tmp_path)] + opts)
    got = eval_tool.main([QUICKSTART_CONFIG, onnx_file, '--work-dir', str(tmp_path),
                          '--backend', 'onnxruntime'] + opts)
    assert set(got) == set(ref)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-4), key


def test_missing_deploy_packages_and_wrong_models_say_what_to_do(tmp_path):
    with pytest.raises(DeployError, match=r"\.\[deploy\]"):
        require('poseforge_no_such_runtime')
    from poseforge.deploy import onnxruntime_model_cfg
    with pytest.raises(DeployError, match='top-down'):
        onnxruntime_model_cfg(dict(type='CenterHandDetector'))
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        OrtSession(tmp_path / 'missing.onnx')
    assert callable(export_onnx_bytes)
