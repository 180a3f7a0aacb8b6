"""Tiny models and checkpoints shared by the model-protection tests (nasty teacher, distillation
box, amalgamation, transferability): MobileNetV2Pose x0.35 on 32x32 crops, 8x8 heatmaps."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from mmengine.registry import init_default_scope

from conftest import ROOT

from poseforge.engine.checkpoint import atomic_torch_save
from poseforge.registry import MODELS

CODEC = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
TINY = dict(type='TopdownPoseEstimator',
            backbone=dict(type='MobileNetV2Pose', num_keypoints=21, widen_factor=0.35,
                          head_channels=16),
            head=dict(type='MultiStageHeatmapHead', decoder=CODEC),
            test_cfg=dict(flip_test=False))
STUDENT_BASE = str(ROOT / 'configs' / 'students' / 'mobilenetv2-w0.5_synth-hands-64.py')


def tiny_model_cfg() -> dict:
    return copy.deepcopy(TINY)


def random_checkpoint(path: Path, seed: int = 0) -> Path:
    """A tiny estimator's (randomly initialised) weights as a plain checkpoint: a frozen
    teacher for tests of the training protocols, which need its maps, not its accuracy."""
    init_default_scope('poseforge')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg())
    with torch.no_grad():  # a visible, input-dependent output (the init is std 0.001)
        model.backbone.final_layer.weight.normal_(std=0.3)
    atomic_torch_save({'state_dict': model.state_dict()}, path)
    return path


def batch(seed: int = 0, size: int = 3) -> tuple[torch.Tensor, dict]:
    """Random inputs ``(B, 3, 32, 32)`` and targets (Gaussian-free random maps, weights with
    a zero)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(size, 3, 32, 32, generator=gen)
    heatmaps = torch.rand(size, 21, 8, 8, generator=gen)
    weights = torch.ones(size, 21)
    weights[0, 3] = 0.0
    return inputs, dict(heatmaps=heatmaps, keypoint_weights=weights)


def tiny_config_text(model: str, data_root: Path, extra: str = '') -> str:
    """A training config on the tiny generated data: the protect student's runtime with the
    tiny model shapes, 1 epoch of 2 iterations, no workers, no curves."""
    return f"""
_base_ = ['{STUDENT_BASE}']
from poseforge.datasets.transforms.presets import topdown_pipelines
codec = {CODEC!r}
model = {model}
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, rotate_factor=30.0)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data_root}', pipeline=train_pipeline,
                                     indices=8))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root='{data_root}', pipeline=test_pipeline, indices=4))
test_dataloader = val_dataloader
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
custom_hooks = []
{extra}
"""
