"""Safe Distillation Box (poseforge/distillers/sdb.py): the key file (deterministic blending,
clear errors), each loss term against a direct computation, the keyed KD student's teacher
input, and the boxed teacher as an ordinary checkpoint through the tools."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from forked_tool import run_tool
from protect_common import batch, random_checkpoint, tiny_config_text, tiny_model_cfg

from poseforge.distillers.sdb import (KeyFileError, blend_key, load_key, make_key, save_key,
                                      sdb_objective, sdb_terms)
from poseforge.engine.checkpoint import safe_load
from poseforge.registry import MODELS


def _softmax(v: np.ndarray, tau: float) -> np.ndarray:
    e = np.exp(v.ravel() / tau)
    return e / e.sum()


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))


def _direct_terms(plain, keyed, adv, rand, w, tau) -> dict:
    """Each term written out joint by joint with numpy."""
    b, k = plain.shape[:2]
    adv_kl = key_kl = adv_mse = r_adv = r_rand = 0.0
    for i in range(b):
        for j in range(k):
            pb, pk, pa = (_softmax(m[i, j], tau) for m in (plain, keyed, adv))
            adv_kl += w[i, j] * tau * tau * _kl(pb, pa)
            key_kl += w[i, j] * _kl(_softmax(plain[i, j], 1.0), _softmax(keyed[i, j], 1.0))
            adv_mse += w[i, j] * float(np.sum((pa - pk) ** 2))
            relu = lambda m: np.maximum(m[i, j], 0.0)  # noqa: E731
            r_adv += w[i, j] * float(np.mean((relu(adv) - relu(keyed)) ** 2))
            r_rand += w[i, j] * float(np.mean((relu(rand) - relu(keyed)) ** 2))
    n = b * k
    return dict(adv_kl=adv_kl / n, key_kl=key_kl / n, adv_mse=adv_mse / n,
                random=0.01 * r_adv / n - r_rand / n)


def test_each_box_term_equals_the_direct_computation_on_hand_made_maps():
    gen = torch.Generator().manual_seed(0)
    plain, keyed, adv, rand = (torch.randn(2, 3, 2, 3, generator=gen) for _ in range(4))
    weights = torch.tensor([[1.0, 0.0, 0.5], [1.0, 1.0, 2.0]])
    for tau in (0.1, 1.0, 4.0):
        terms = sdb_terms(plain, keyed, adv, weights, tau, rand)
        want = _direct_terms(*(t.numpy() for t in (plain, keyed, adv, rand)), weights.numpy(),
                             tau)
        for name, value in want.items():
            assert float(terms[name]) == pytest.approx(value, rel=1e-4, abs=1e-9), (name, tau)
        total = sdb_objective(terms, weight=0.7, eta=0.001)
        assert float(total) == pytest.approx(
            -0.7 * (want['adv_kl'] - want['key_kl']) + want['adv_mse'] - 0.001 * want['random'],
            rel=1e-4, abs=1e-9)
    assert float(sdb_terms(plain, keyed, adv, weights, 1.0)['random']) == 0.0  # no random model


def test_key_blending_is_deterministic_given_the_key_file(tmp_path):
    path = tmp_path / 'key.npy'
    save_key(path, make_key((8, 6), seed=3))
    first, second = load_key(path, (8, 6)), load_key(path, (8, 6))
    assert torch.equal(first, second) and first.shape == (3, 8, 6)
    assert torch.equal(first, torch.from_numpy(make_key((8, 6), seed=3)))
    assert not torch.equal(first, torch.from_numpy(make_key((8, 6), seed=4)))
    x = torch.randn(2, 3, 8, 6)
    blended = blend_key(x, first, 0.9)
    assert torch.allclose(blended, 0.9 * x + 0.1 * first[None], atol=1e-6)
    assert torch.equal(blended, blend_key(x, second, 0.9))


def test_a_missing_or_wrong_key_file_is_a_clear_error_naming_it(tmp_path):
    missing = tmp_path / 'nowhere' / 'key.npy'
    with pytest.raises(KeyFileError, match=f"not found: '{missing}'"):
        load_key(missing, (8, 8))
    wrong = tmp_path / 'wrong.npy'
    save_key(wrong, make_key((4, 4)))
    with pytest.raises(KeyFileError, match=r"wrong.npy' holds an array of shape \(3, 4, 4\); "
                                           r"expected \(3, 8, 8\)"):
        load_key(wrong, (8, 8))
    garbage = tmp_path / 'garbage.npy'
    garbage.write_bytes(b'not a numpy file')
    with pytest.raises(KeyFileError, match="garbage.npy' is not a .npy array"):
        load_key(garbage, (8, 8))
    # the distiller fails at build time, naming the file
    init_default_scope('poseforge')
    ckpt = random_checkpoint(tmp_path / 't.pth')
    with pytest.raises(KeyFileError, match='wrong.npy'):
        MODELS.build(dict(type='SDBDistiller', student=tiny_model_cfg(), teacher=tiny_model_cfg(),
                          teacher_checkpoint=str(ckpt), key_file=str(wrong)))


@pytest.fixture(scope='module')
def box_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('sdb')
    save_key(tmp / 'key.npy', make_key((32, 32), seed=0))
    return random_checkpoint(tmp / 'normal.pth'), tmp / 'key.npy'


def test_box_loss_composition_and_frozen_models(box_files):
    ckpt, key = box_files
    init_default_scope('poseforge')
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SDBDistiller', student=tiny_model_cfg(),
                              teacher=tiny_model_cfg(), teacher_checkpoint=str(ckpt),
                              key_file=str(key), tau=0.5, weight=0.3, eta=0.01))
    model.train()
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    keyed_in = 0.9 * inputs + 0.1 * load_key(key, (32, 32))[None]
    with torch.no_grad():
        s = model.student
        gt_plain = s(inputs, samples, mode='loss')['loss_kpt']
        gt_keyed = s(keyed_in, samples, mode='loss')['loss_kpt']
        maps = [m.head.predict(m(x, mode='tensor')) for m, x in
                ((s, inputs), (s, keyed_in), (model.teacher, inputs),
                 (model.random_model, inputs))]
    want = _direct_terms(*(m.numpy() for m in maps), samples['keypoint_weights'].numpy(), 0.5)
    assert float(losses['loss_kpt'].detach()) == pytest.approx(2 * float(gt_plain), rel=1e-5)
    assert float(losses['loss_kpt_keyed'].detach()) == pytest.approx(float(gt_keyed), rel=1e-5)
    assert float(losses['loss_sdb'].detach()) == pytest.approx(
        -0.3 * (want['adv_kl'] - want['key_kl']) + want['adv_mse'] - 0.01 * want['random'],
        rel=1e-4, abs=1e-8)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert all(p.grad is None for p in model.random_model.parameters())
    # the random model is saved with the box's checkpoints (a resume sees the same one), the
    # adversary and the key are not
    keys = model.state_dict()
    assert any(k.startswith('random_model.') for k in keys)
    assert not any(k.startswith('teacher.') or 'sdb_key' in k for k in keys)


def test_a_key_holders_student_distils_from_keyed_teacher_inputs(box_files):
    ckpt, key = box_files
    init_default_scope('poseforge')
    common = dict(student=tiny_model_cfg(), teacher=tiny_model_cfg(),
                  teacher_checkpoint=str(ckpt),
                  distill=[dict(type='HeatmapKDLoss', name='loss_hm', mode='mse')])
    keyed = MODELS.build(dict(type='KeyedKDDistiller', key_file=str(key), **common))
    plain = MODELS.build(dict(type='KDDistiller', **common))
    x = torch.randn(2, 3, 32, 32)
    want = 0.9 * x + 0.1 * load_key(key, (32, 32))[None]
    assert torch.allclose(keyed.teacher_inputs(x), want, atol=1e-6)
    assert torch.equal(plain.teacher_inputs(x), x)


def test_boxed_teacher_trains_exports_and_evaluates_through_the_tools(box_files, tiny_synth,
                                                                      tmp_path):
    ckpt, key = box_files
    model = (f"dict(_delete_=True, type='SDBDistiller', student={tiny_model_cfg()!r}, "
             f"teacher={tiny_model_cfg()!r}, teacher_checkpoint='{ckpt}', key_file='{key}')")
    config = tmp_path / 'sdb_tiny.py'
    config.write_text(tiny_config_text(model, tiny_synth))
    work = tmp_path / 'work'
    result = run_tool('train', str(config), '--work-dir', str(work))
    assert result.returncode == 0, result.stderr[-3000:]
    box_ckpt = work / 'epoch_1.pth'
    # evaluated by the distiller on keyed inputs ...
    keyed_metrics = tmp_path / 'keyed.json'
    result = run_tool('eval', str(config), str(box_ckpt), '--work-dir', str(tmp_path / 'ek'),
                      '--out', str(keyed_metrics), '--cfg-options', 'model.predict_with=keyed')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 0.0 <= json.loads(keyed_metrics.read_text())['PCK@0.2'] <= 1.0
    # ... and exported as a plain model that eval.py reads without any key
    out = tmp_path / 'boxed.pth'
    result = run_tool('export_student', str(config), str(box_ckpt), '--out', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    exported = safe_load(out)['state_dict']
    assert not any(k.startswith(('random_model.', 'teacher.', 'student.')) for k in exported)
    assert 'sdb_key' not in out.with_suffix('.py').read_text().split('model = ')[-1]
    metrics_file = tmp_path / 'metrics.json'
    result = run_tool('eval', str(out.with_suffix('.py')), str(out), '--work-dir',
                      str(tmp_path / 'eval'), '--out', str(metrics_file))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 0.0 <= json.loads(metrics_file.read_text())['PCK@0.2'] <= 1.0
