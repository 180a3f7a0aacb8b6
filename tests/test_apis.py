"""init_model / inference_topdown from Python."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import QUICKSTART_CONFIG

from poseforge.apis import inference_topdown, init_model
from poseforge.engine.checkpoint import UnsafeCheckpointError


def _first_test_sample(root):
    ann = json.loads((root / 'annotations' / 'test.json').read_text())
    img, inst = ann['images'][0], ann['annotations'][0]
    assert inst['image_id'] == img['id']
    x, y, w, h = inst['bbox']
    return root / 'images' / 'test' / img['file_name'], [x, y, x + w, y + h]


def test_inference_from_path_and_array_agree(tiny_synth):
    model = init_model(QUICKSTART_CONFIG)
    path, box = _first_test_sample(tiny_synth)
    from_path = inference_topdown(model, str(path), bboxes=[box])
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    from_array = inference_topdown(model, rgb, bboxes=np.array([box]))
    assert len(from_path) == 1 and from_path[0]['keypoints'].shape == (21, 2)
    assert from_path[0]['keypoint_scores'].shape == (21,)
    np.testing.assert_allclose(from_path[0]['keypoints'], from_array[0]['keypoints'], atol=1e-3)
    # Predictions land in image pixels around the box, not in crop pixels.
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 1.25
    kpts = from_path[0]['keypoints']
    assert np.all(kpts[:, 0] >= (x1 + x2) / 2 - side) and np.all(kpts[:, 0] <= (x1 + x2) / 2 + side)


def test_no_boxes_means_the_whole_image(tiny_synth):
    model = init_model(QUICKSTART_CONFIG)
    path, _ = _first_test_sample(tiny_synth)
    result = inference_topdown(model, str(path))
    h, w = cv2.imread(str(path)).shape[:2]
    np.testing.assert_allclose(result[0]['bbox'], [0, 0, w, h])


def test_init_model_loads_weights_and_refuses_unsafe_files(tmp_path):
    model = init_model(QUICKSTART_CONFIG)
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    good = tmp_path / 'w.pth'
    torch.save({'state_dict': state, 'meta': {}}, good)
    loaded = init_model(QUICKSTART_CONFIG, str(good))
    first = next(iter(loaded.state_dict().values()))
    assert torch.all(first == 0.5)

    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': state, 'hook': print}, evil)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        init_model(QUICKSTART_CONFIG, str(evil))
