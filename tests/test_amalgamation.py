"""Knowledge amalgamation (poseforge/distillers/amalgamation/): MMD, ambiguity and teacher
selection against direct computations, the task heads merged exactly into the shipped student,
the KD targets, task masking, per-teacher-task metrics, and a run through the tools."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from forked_tool import run_tool
from protect_common import batch, random_checkpoint, tiny_config_text, tiny_model_cfg

from poseforge.distillers.amalgamation import (MaskKeypoints, TaskPCKAccuracy,
                                               heatmap_ambiguity, multi_kernel_mmd,
                                               select_targets, union_of_teachers)
from poseforge.engine.checkpoint import safe_load
from poseforge.registry import MODELS

TASKS = dict(a=list(range(0, 13)), b=[0] + list(range(9, 21)))


def test_multi_kernel_mmd_equals_the_direct_double_sum():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 2, 2, 2, generator=gen), torch.randn(3, 2, 2, 2, generator=gen) + 0.5
    sigmas = (0.1, 0.5, 2.0)
    a = [v / np.linalg.norm(v) for v in x.flatten(1).numpy().astype(np.float64)]
    b = [v / np.linalg.norm(v) for v in y.flatten(1).numpy().astype(np.float64)]

    def k(u, v):
        return sum(math.exp(-np.sum((u - v) ** 2) / (2 * s * s)) for s in sigmas)

    n = len(a)
    want = (sum(k(u, v) for u in a for v in a) + sum(k(u, v) for u in b for v in b)
            - 2 * sum(k(u, v) for u in a for v in b)) / (n * n)
    assert float(multi_kernel_mmd(x, y, sigmas)) == pytest.approx(max(want, 0.0), rel=1e-5)
    assert float(multi_kernel_mmd(x, x, sigmas)) == pytest.approx(0.0, abs=1e-6)


def test_ambiguity_is_the_entropy_and_selection_takes_the_sharpest_teacher():
    sharp = torch.zeros(4, 4)
    sharp[1, 2] = 1.0
    flat = torch.full((4, 4), 0.5)
    two = torch.zeros(4, 4)
    two[0, 0], two[3, 3] = 1.0, 1.0
    maps = torch.stack([sharp, flat, two])[None]  # (1, 3, 4, 4)
    amb = heatmap_ambiguity(maps)[0]
    assert amb.tolist() == pytest.approx([0.0, math.log(16), math.log(2)], abs=1e-5)
    # two teachers, 3 keypoints: teacher 0 knows 0 and 1, teacher 1 knows 1 and 2
    t0 = torch.stack([sharp, flat, torch.zeros(4, 4)])[None]  # (B=1, K=3, 4, 4)
    t1 = torch.stack([torch.zeros(4, 4), two, sharp])[None]
    known = torch.tensor([[True, True, False], [False, True, True]])
    targets, chosen = select_targets(torch.stack([t0, t1]), known, 'keypoint')
    assert chosen.tolist() == [[0, 1, 1]]  # keypoint 1: teacher 1's two peaks beat flat
    assert torch.equal(targets[0, 1], two) and torch.equal(targets[0, 0], sharp)
    # per sample: one teacher for every shared keypoint (here only keypoint 1)
    _, chosen = select_targets(torch.stack([t0, t1]), known, 'sample')
    assert chosen.tolist() == [[0, 1, 1]]
    mean, _ = select_targets(torch.stack([t0, t1]), known, 'mean')
    assert torch.allclose(mean[0, 1], (flat + two) / 2)
    # a keypoint nobody knows gets a zero target and index -1
    targets, chosen = select_targets(torch.stack([t0, t1]),
                                     torch.tensor([[True, False, False], [False, False, True]]),
                                     'keypoint')
    assert chosen[0, 1] == -1 and targets[0, 1].abs().sum() == 0


def test_mask_keypoints_zeroes_the_other_weights():
    results = dict(keypoint_weights=np.array([1.0, 1.0, 0.0, 1.0], dtype=np.float32))
    out = MaskKeypoints(keep=[0, 2, 3])(results)
    assert out['keypoint_weights'].tolist() == [1.0, 0.0, 0.0, 1.0]


def test_task_pck_is_the_pck_of_each_tasks_keypoints():
    metric = TaskPCKAccuracy(tasks=dict(first=[0, 1], second=[1, 2]), per_joint=True)
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, 0] = [5.0, 0.0]   # keypoint 0 wrong in sample 0 (5 > 0.2 * 10)
    pred[:, 2] = [9.0, 9.0]   # keypoint 2 wrong everywhere
    samples = [dict(keypoints=gt[i], pred_keypoints=pred[i], keypoints_visible=np.ones(3),
                    bbox=np.array([0.0, 0.0, 10.0, 10.0])) for i in range(2)]
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    assert out['PCK@0.2'] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert out['PCK@0.2/first'] == pytest.approx(0.75)
    assert out['PCK@0.2/second'] == pytest.approx(0.5)
    assert out['PCK@0.2/first/0'] == pytest.approx(0.5)


def test_union_of_teachers_takes_each_keypoint_from_a_teacher_that_knows_it():
    per_joint = dict(a=[0.9, 0.8, 0.1, -1.0], b=[0.5, 0.95, 0.7, -1.0])
    pck, acc = union_of_teachers(per_joint, dict(a=[0, 1], b=[1, 2]))
    assert acc.tolist() == [0.9, 0.95, 0.7, -1.0]  # 3: nobody knows it
    assert pck == pytest.approx((0.9 + 0.95 + 0.7) / 3)


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('amal')
    return random_checkpoint(tmp / 'a.pth', seed=1), random_checkpoint(tmp / 'b.pth', seed=2)


def _teachers_cfg(ckpts) -> list[dict]:
    return [dict(name='a', model=tiny_model_cfg(), checkpoint=str(ckpts[0]), keypoints=TASKS['a']),
            dict(name='b', model=tiny_model_cfg(), checkpoint=str(ckpts[1]), keypoints=TASKS['b'])]


def _build(ckpts, **kwargs):
    init_default_scope('poseforge')
    torch.manual_seed(0)
    return MODELS.build(dict(type='AmalgamationDistiller', student=tiny_model_cfg(),
                             teachers=_teachers_cfg(ckpts), **kwargs))


def test_heads_merge_exactly_into_the_shipped_students_last_conv(teachers):
    model = _build(teachers)
    with torch.no_grad():
        for head in model.task_heads.values():
            head.weight.normal_()
            head.bias.normal_()
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        with model.recorder.recording():
            model.student(x, mode='tensor')
            feature = model.recorder[model.student_feature]
        heads = model.head_outputs(feature)
        state, cfg = model.export_student()
        plain = MODELS.build(cfg)
        plain.load_state_dict(state, strict=True)
        maps = plain.eval()(x, mode='tensor')
    assert torch.allclose(maps[:, 1:9], heads['a'][:, 1:9], atol=1e-5)        # a only
    assert torch.allclose(maps[:, 13:], heads['b'][:, 5:], atol=1e-5)         # b only
    shared_a, shared_b = heads['a'][:, [0, 9, 10, 11, 12]], heads['b'][:, :5]  # both know
    assert torch.allclose(maps[:, [0, 9, 10, 11, 12]], (shared_a + shared_b) / 2, atol=1e-5)


def test_label_free_loss_matches_per_head_kd_against_each_teacher(teachers):
    model = _build(teachers, mmd_weight=0.5, recon_weight=0.25)
    model.train()
    inputs, _ = batch()
    losses = model(inputs, None, mode='loss')  # no labels at all
    with torch.no_grad():
        with model.recorder.recording():
            model.student(inputs, mode='tensor')
            feature = model.recorder[model.student_feature]
        heads = model.head_outputs(feature)
        ta = model.teacher_a.head.predict(model.teacher_a(inputs, mode='tensor'))[:, TASKS['a']]
        tb = model.teacher_b.head.predict(model.teacher_b(inputs, mode='tensor'))[:, TASKS['b']]
    want_a = float(((heads['a'] - ta) ** 2).mean())
    want_b = float(((heads['b'] - tb) ** 2).mean())
    assert float(losses['kd_a']) == pytest.approx(want_a, rel=1e-4)
    assert float(losses['kd_b']) == pytest.approx(want_b, rel=1e-4)
    assert float(losses['loss_kd'].detach()) == pytest.approx(want_a + want_b, rel=1e-4)
    assert {'loss_mmd', 'loss_recon'} <= set(losses)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert all(p.grad is None for t in ('teacher_a', 'teacher_b')
               for p in getattr(model, t).parameters())
    assert model.task_heads['a'].weight.grad.abs().sum() > 0
    assert model.common.align_teachers[1][0].weight.grad.abs().sum() > 0
    # selection: on shared keypoints every head learns the chosen teacher's maps
    model = _build(teachers, select='keypoint', mmd_weight=0.0, recon_weight=0.0)
    losses = model(inputs, None, mode='loss')
    assert model.common is None and 'loss_mmd' not in losses
    assert float(losses['chosen_a']) + float(losses['chosen_b']) == pytest.approx(1.0)


def test_amalgamation_trains_and_reports_per_teacher_task_metrics(teachers, tiny_synth,
                                                                 tmp_path):
    model = (f"dict(_delete_=True, type='AmalgamationDistiller', student={tiny_model_cfg()!r}, "
             f"teachers={_teachers_cfg(teachers)!r}, select='sample')")
    extra = (f'val_evaluator = [dict(type="TaskPCKAccuracy", tasks={TASKS!r}), '
             'dict(type="EPE")]\ntest_evaluator = val_evaluator')
    config = tmp_path / 'amal_tiny.py'
    config.write_text(tiny_config_text(model, tiny_synth, extra))
    work = tmp_path / 'work'
    result = run_tool('train', str(config), '--work-dir', str(work))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'amalgamated.pth'
    result = run_tool('export_student', str(config), str(work / 'epoch_1.pth'), '--out', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(k.startswith(('task_heads', 'common', 'teacher_'))
                   for k in safe_load(out)['state_dict'])
    metrics_file = tmp_path / 'metrics.json'
    result = run_tool('eval', str(out.with_suffix('.py')), str(out), '--work-dir',
                      str(tmp_path / 'eval'), '--out', str(metrics_file))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(metrics_file.read_text())
    assert {'PCK@0.2', 'PCK@0.2/a', 'PCK@0.2/b', 'EPE'} <= set(metrics)
