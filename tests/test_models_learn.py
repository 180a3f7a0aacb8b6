"""Each model learns: a short training run on generated hands clearly beats the untrained
model's PCK on the samples it trained on (a fixed small batch, no augmentation)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from conftest import ROOT

from poseforge.datasets.collate import pose_collate
from poseforge.datasets.transforms.presets import topdown_test_pipeline
from poseforge.evaluation.functional import keypoint_pck_accuracy
from poseforge.registry import DATASETS, MODELS
from poseforge.utils.config import load_config

pytestmark = pytest.mark.slow
CONFIGS = {
    'cpm': 'configs/quickstart/cpm-light_synth-hands-128.py',
    'nsrm': 'configs/nsrm/nsrm_lpm-g1and6_synth-hands-128.py',
    'sia_gcn': 'configs/sia_gcn/sia-gcn_light_synth-hands-128.py',
    'rmgmn': 'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py',
}


def _fixed_batch(cfg, root, size: int = 8) -> dict:
    codec = cfg.model.head.decoder
    pipeline = topdown_test_pipeline(codec)
    pipeline.insert(-1, dict(type='GenerateTarget', encoder=codec))
    dataset = DATASETS.build(dict(type='SynthHandDataset', data_root=str(root),
                                  ann_file='annotations/train.json', pipeline=pipeline))
    return pose_collate([dataset[i] for i in range(size)])


def _pck(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        preds = model.test_step(batch)
    model.train()
    pred = np.stack([p['pred_keypoints'] for p in preds])
    gt = np.stack([p['keypoints'] for p in preds])
    mask = np.stack([p['keypoints_visible'] for p in preds]) > 0
    boxes = np.stack([p['bbox'] for p in preds])
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return keypoint_pck_accuracy(pred, gt, mask, 0.2, np.stack([side, side], 1))[1]


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_short_training_beats_the_untrained_model(name, tiny_synth):
    torch.manual_seed(0)
    init_default_scope('poseforge')
    cfg = load_config(str(ROOT / CONFIGS[name]))
    model = MODELS.build(cfg.model)
    batch = _fixed_batch(cfg, tiny_synth)
    before = _pck(model, batch)
    optim = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(120):
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
    after = _pck(model, batch)
    assert after >= before + 0.3, (before, after)
