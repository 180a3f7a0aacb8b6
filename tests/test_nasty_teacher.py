"""Nasty teacher (poseforge/distillers/nasty.py): the self-undermining loss against a direct
computation, the frozen normal teacher, and the nasty model as an ordinary checkpoint that
trains, exports and evaluates through the usual tools."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from forked_tool import run_tool
from protect_common import batch, random_checkpoint, tiny_config_text, tiny_model_cfg

from poseforge.distillers.nasty import NastyTeacherDistiller, self_undermining_kl
from poseforge.engine.checkpoint import safe_load
from poseforge.registry import MODELS


def _direct_kl(nasty: np.ndarray, normal: np.ndarray, weights: np.ndarray, tau: float) -> float:
    """``mean_{b,k} w_bk tau^2 sum_i p_i log(p_i / q_i)``, ``p = softmax(normal / tau)``,
    ``q = softmax(nasty / tau)``, written out one joint at a time."""
    b, k = nasty.shape[:2]
    total = 0.0
    for i in range(b):
        for j in range(k):
            p = np.exp(normal[i, j].ravel() / tau)
            p /= p.sum()
            q = np.exp(nasty[i, j].ravel() / tau)
            q /= q.sum()
            total += weights[i, j] * tau * tau * float(np.sum(p * np.log(p / q)))
    return total / (b * k)


def test_self_undermining_kl_equals_the_direct_computation_on_hand_made_maps():
    nasty = torch.zeros(2, 2, 2, 3)
    normal = torch.zeros(2, 2, 2, 3)
    normal[0, 0, 0, 1] = 1.0          # a peak the nasty map lacks
    nasty[0, 1, 1, 2] = 0.5           # a nasty second peak
    nasty[1, 0] = torch.tensor([[0.1, 0.9, 0.0], [0.3, 0.2, 0.8]])
    normal[1, 1] = torch.tensor([[0.0, 0.2, 1.0], [0.4, 0.0, 0.1]])
    weights = torch.tensor([[1.0, 0.5], [1.0, 0.0]])
    for tau in (0.1, 0.5, 2.0):
        got = float(self_undermining_kl(nasty, normal, weights, tau))
        want = _direct_kl(nasty.numpy(), normal.numpy(), weights.numpy(), tau)
        assert got == pytest.approx(want, rel=1e-5, abs=1e-9)
    assert float(self_undermining_kl(normal, normal, torch.ones(2, 2), 0.1)) == pytest.approx(
        0.0, abs=1e-7)  # equal maps: nothing to undermine


@pytest.fixture(scope='module')
def normal_ckpt(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp('nasty') / 'normal.pth')


def _build(ckpt, **kwargs) -> NastyTeacherDistiller:
    init_default_scope('poseforge')
    torch.manual_seed(1)
    return MODELS.build(dict(type='NastyTeacherDistiller', student=tiny_model_cfg(),
                             teacher=tiny_model_cfg(), teacher_checkpoint=str(ckpt), **kwargs))


def test_nasty_loss_is_the_gt_loss_minus_w_tau2_kl_and_only_the_nasty_model_learns(normal_ckpt):
    model = _build(normal_ckpt, tau=0.5, weight=0.2)
    model.train()
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    with torch.no_grad():
        gt = model.student(inputs, samples, mode='loss')['loss_kpt']
        nasty = model.student.head.predict(model.student(inputs, mode='tensor'))
        normal = model.teacher.head.predict(model.teacher(inputs, mode='tensor'))
    want = _direct_kl(nasty.numpy(), normal.numpy(), samples['keypoint_weights'].numpy(), 0.5)
    assert float(losses['loss_kpt'].detach()) == pytest.approx(float(gt), rel=1e-6)
    assert float(losses['kd_nasty']) == pytest.approx(want, rel=1e-4)
    assert float(losses['loss_nasty'].detach()) == pytest.approx(-0.2 * want, rel=1e-4)
    assert want > 0
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.student.backbone.final_layer.weight.grad.abs().sum() > 0
    assert not model.teacher.training  # frozen teacher stays in eval mode
    assert not any(k.startswith('teacher.') for k in model.state_dict())


def test_a_few_steps_push_the_nasty_maps_away_from_the_normal_teachers(normal_ckpt):
    """The KL to the normal teacher grows when only the subtracted term is optimised."""
    model = _build(normal_ckpt, tau=0.5, weight=1.0)
    model.train()
    inputs, samples = batch(seed=2)
    samples['keypoint_weights'] = torch.ones(3, 21)
    optim = torch.optim.Adam(model.student.parameters(), lr=1e-2)
    kls = []
    for _ in range(6):
        losses = model(inputs, samples, mode='loss')
        optim.zero_grad()
        losses['loss_nasty'].backward()
        optim.step()
        kls.append(float(losses['kd_nasty']))
    assert kls[-1] > 2 * kls[0]


def test_nasty_teacher_trains_exports_and_evaluates_through_the_tools(normal_ckpt, tiny_synth,
                                                                        tmp_path):
    model = (f"dict(_delete_=True, type='NastyTeacherDistiller', student={tiny_model_cfg()!r}, "
             f"teacher={tiny_model_cfg()!r}, teacher_checkpoint='{normal_ckpt}', tau=0.1, "
             'weight=0.05)')
    config = tmp_path / 'nasty_tiny.py'
    config.write_text(tiny_config_text(model, tiny_synth))
    work = tmp_path / 'work'
    result = run_tool('train', str(config), '--work-dir', str(work))
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = work / 'epoch_1.pth'
    log = (work / 'last_checkpoint').read_text()
    assert log.strip().endswith('epoch_1.pth')
    saved = safe_load(ckpt)['state_dict']
    assert not any(k.startswith('teacher.') for k in saved)
    out = tmp_path / 'nasty.pth'
    result = run_tool('export_student', str(config), str(ckpt), '--out', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    exported = safe_load(out)['state_dict']
    assert set(exported) == {k[len('student.'):] for k in saved if k.startswith('student.')}
    # the exported nasty teacher is a plain model: eval.py reads it with its written config
    metrics_file = tmp_path / 'metrics.json'
    result = run_tool('eval', str(out.with_suffix('.py')), str(out), '--work-dir',
                      str(tmp_path / 'eval'), '--out', str(metrics_file))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(metrics_file.read_text())
    assert 0.0 <= metrics['PCK@0.2'] <= 1.0
    # and it is what the distiller evaluated as its student
    init_default_scope('poseforge')
    plain = MODELS.build(tiny_model_cfg())
    plain.load_state_dict(exported, strict=True)
    for key, value in plain.state_dict().items():
        assert torch.equal(value, saved[f'student.{key}'])
