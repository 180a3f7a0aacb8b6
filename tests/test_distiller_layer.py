"""The distiller layer: module-path hooks, frozen teachers, saved state, export, dispatch.

A minimal teacher -> student distiller (defined here, as a method would be) exercises what the
base class promises the offline methods built on it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from torch.nn import functional as F

import poseforge  # noqa: F401
from poseforge.distillers import (BaseDistiller, ModulePathError, ModuleRecorder,
                                  teacher_checkpoints_optional)
from poseforge.engine.checkpoint import atomic_torch_save
from poseforge.registry import MODELS

K = 3
CODEC = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)


def estimator_cfg(channels: int) -> dict:
    return dict(type='TopdownPoseEstimator',
                backbone=dict(type='StackedHourglass', num_stacks=1, num_keypoints=K,
                              channels=channels, depth=2),
                head=dict(type='MultiStageHeatmapHead', decoder=CODEC))


@MODELS.register_module(name='_TestStemKD', force=True)
class StemKD(BaseDistiller):
    """Student + frozen teacher; MSE between their stem outputs, read through hooks."""

    def __init__(self, student, teacher, teacher_checkpoint=None, keep_teacher=False,
                 paths=('student.backbone.stem', 'teacher.backbone.stem'),
                 predict_with='student'):
        super().__init__(predict_with=predict_with)
        self.student = self.build_student(student)
        self.add_frozen_teacher('teacher', teacher, teacher_checkpoint,
                                keep_in_state_dict=keep_teacher)
        self.paths = list(paths)
        self.record(self.paths)

    def loss(self, inputs, data_samples):
        with self.recorder.recording():
            losses = self.student(inputs, data_samples, mode='loss')
            with torch.no_grad():
                self.teacher(inputs, mode='tensor')
        losses['loss_feat'] = F.mse_loss(self.recorder[self.paths[0]],
                                         self.recorder[self.paths[1]])
        return losses


@pytest.fixture
def teacher_ckpt(tmp_path):
    init_default_scope('poseforge')
    torch.manual_seed(1)
    teacher = MODELS.build(estimator_cfg(16))
    for module in teacher.modules():  # non-default BatchNorm statistics to notice resets
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
    path = tmp_path / 'teacher.pth'
    atomic_torch_save({'state_dict': teacher.state_dict()}, path)
    return path, teacher.state_dict()


def build(teacher_ckpt, **kwargs):
    init_default_scope('poseforge')
    return MODELS.build(dict(type='_TestStemKD', student=estimator_cfg(16),
                             teacher=estimator_cfg(16), teacher_checkpoint=str(teacher_ckpt[0]),
                             **kwargs))


def samples(b=2):
    return (torch.randn(b, 3, 32, 32),
            dict(heatmaps=torch.rand(b, K, 8, 8), keypoint_weights=torch.ones(b, K)))


def test_frozen_teacher_loads_its_checkpoint_gets_no_gradient_and_never_changes(teacher_ckpt):
    model = build(teacher_ckpt)
    _, teacher_state = teacher_ckpt
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, teacher_state[key])
    assert model.data_preprocessor is model.student.data_preprocessor
    model.train()
    assert not model.teacher.training and model.student.training
    assert not any(p.requires_grad for p in model.teacher.parameters())
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    inputs, data = samples()
    for _ in range(2):
        losses = model(inputs, data, mode='loss')
        loss = losses['loss_kpt'] + losses['loss_feat']
        optim.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in model.teacher.parameters())
        assert model.student.backbone.stem[0].weight.grad is not None
        optim.step()
    for key, value in model.teacher.state_dict().items():  # BN statistics included
        torch.testing.assert_close(value, teacher_state[key])
    model.init_weights()  # mmengine's initialisation leaves the loaded teacher alone
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, teacher_state[key])


def test_teacher_stays_out_of_saved_state_and_loads_back_strictly(teacher_ckpt):
    from mmengine.runner.checkpoint import get_state_dict, load_state_dict
    model = build(teacher_ckpt)
    saved = model.state_dict()
    assert not any(k.startswith('teacher.') for k in saved)
    assert set(get_state_dict(model)) == set(saved)  # what the Runner saves
    assert any(k.startswith('student.backbone.') for k in saved)
    other = build(teacher_ckpt)
    other.load_state_dict(saved, strict=True)  # teacher keys filled from the live teacher
    load_state_dict(other, saved, strict=True)  # the Runner's loader, strict
    for key, value in saved.items():
        torch.testing.assert_close(other.state_dict()[key], value)
    kept = build(teacher_ckpt, keep_teacher=True)
    assert any(k.startswith('teacher.') for k in kept.state_dict())


def test_teacher_needs_its_checkpoint_unless_told_otherwise(tmp_path, teacher_ckpt):
    init_default_scope('poseforge')
    with pytest.raises(ValueError, match='needs its checkpoint'):
        MODELS.build(dict(type='_TestStemKD', student=estimator_cfg(16),
                          teacher=estimator_cfg(16)))
    with teacher_checkpoints_optional():
        model = MODELS.build(dict(type='_TestStemKD', student=estimator_cfg(16),
                                  teacher=estimator_cfg(16),
                                  teacher_checkpoint=str(tmp_path / 'absent.pth')))
    assert not model.teacher.training
    with pytest.raises(ValueError,
                       match=r"teacher\.pth' does not fit.* of another shape \(e\.g\. backbone"):
        MODELS.build(dict(type='_TestStemKD', student=estimator_cfg(16),  # another model's
                          teacher=estimator_cfg(32), teacher_checkpoint=str(teacher_ckpt[0])))


def test_hooks_record_outputs_and_inputs_by_path(teacher_ckpt):
    model = build(teacher_ckpt)
    recorder = ModuleRecorder(model, ['student.backbone.stacks.0', 'student.head:input',
                                      'teacher.backbone.stem'])
    inputs, _ = samples()
    with torch.no_grad():
        model.student(inputs, mode='tensor')  # outside recording(): nothing kept
        assert 'teacher.backbone.stem' not in recorder
        with recorder.recording():
            out = model.student(inputs, mode='tensor')
            stem = model.student.backbone.stem(inputs)
    heatmaps, next_input = recorder['student.backbone.stacks.0']
    torch.testing.assert_close(heatmaps, out[0])
    assert next_input is None  # the last stack
    with pytest.raises(KeyError, match='was not run'):
        recorder['teacher.backbone.stem']
    assert stem.shape == (2, 16, 8, 8)
    recorder.remove()


def test_a_wrong_module_path_is_a_config_error_naming_the_closest_paths(teacher_ckpt):
    with pytest.raises(ModulePathError) as err:
        build(teacher_ckpt, paths=('student.backbone.stme', 'teacher.backbone.stem'))
    message = str(err.value)
    assert "'student.backbone.stme'" in message and 'student.backbone.stem' in message
    assert "'student.backbone' exists" in message
    with pytest.raises(ModulePathError, match="'techer.backbone'.*teacher"):
        build(teacher_ckpt, paths=('techer.backbone',))
    from poseforge.utils.config import ConfigError
    assert issubclass(ModulePathError, ConfigError)  # tools report it in one line, exit 2


def test_predict_and_export_use_the_student_estimator(teacher_ckpt):
    model = build(teacher_ckpt).eval()
    inputs, _ = samples()
    with torch.no_grad():
        ours = model(inputs, None, mode='predict')
        state, cfg = model.export_student()
        plain = MODELS.build(cfg)
        plain.load_state_dict(state, strict=True)
        alone = plain.eval()(inputs, None, mode='predict')
        model.predict_with = 'teacher'
        teacher = model(inputs, None, mode='predict')
    np.testing.assert_array_equal(ours[0]['pred_keypoints'], alone[0]['pred_keypoints'])
    assert not np.array_equal(ours[0]['pred_keypoints'], teacher[0]['pred_keypoints'])
    assert cfg == estimator_cfg(16)
    assert not any(k.startswith('teacher') for k in state)
