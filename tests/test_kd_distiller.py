"""Teacher -> student distillation end to end on generated hands.

A tiny teacher (a 1-stack hourglass on 64 px crops, 16x16 maps) is trained once per session;
the student (MobileNetV2Pose x0.35 on 32 px crops, 8x8 maps) differs in architecture, input
size and stride, so every step goes through the teacher-input resize and the grid resampling.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope

from conftest import ROOT, as_cli, tiny_cfg_options
from test_models_learn import _fixed_batch, _pck
from test_train_eval_integration import _ok, run_tool

from poseforge.distillers import ModulePathError
from poseforge.distillers.kd.geometry import resample_to_student
from poseforge.distillers.kd.pruning import prunable_keys
from poseforge.engine.checkpoint import atomic_torch_save, safe_load
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError, load_config

pytestmark = pytest.mark.slow
TEACHER_CODEC = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
STUDENT_CODEC = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
TEACHER = dict(type='TopdownPoseEstimator',
               backbone=dict(type='StackedHourglass', num_stacks=1, num_keypoints=21,
                             channels=16, depth=2),
               head=dict(type='MultiStageHeatmapHead', decoder=TEACHER_CODEC))
STUDENT = dict(type='TopdownPoseEstimator',
               backbone=dict(type='MobileNetV2Pose', num_keypoints=21, widen_factor=0.35,
                             head_channels=16),
               head=dict(type='MultiStageHeatmapHead', decoder=STUDENT_CODEC))
#: every loss family at once, on modules of both networks
ALL_LOSSES = [
    dict(type='HeatmapKDLoss', name='loss_hm', mode='mse', weight=0.5),
    dict(type='HeatmapKDLoss', name='loss_hm_kl', mode='kl', tau=0.5, weight=0.1),
    dict(type='FeatureKDLoss', name='loss_fea', weight=1e-3, align=True,  # 16 ch both
         student='student.backbone.decoder.0', teacher='teacher.backbone.stacks.0.fc',
         schedule=dict(policy='linear_decay')),
    dict(type='HeadSharingKDLoss', name='loss_head', student='student.backbone.final_layer:input',
         teacher_head='teacher.backbone.stacks.0.score'),
    dict(type='AMDLoss', name='loss_amd', weight=100.0, student='student.backbone.stages.1',
         teacher='teacher.backbone.stacks.0.fc'),
]


def _train_on(model, batch, steps: int, lr: float = 3e-3) -> list[dict]:
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    history = []
    model.train()
    for _ in range(steps):
        losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append({k: float(v) for k, v in losses.items()})
    return history


@pytest.fixture(scope='session')
def tiny_teacher(tiny_synth, tmp_path_factory):
    """``(checkpoint path, teacher batch, student batch)``: a teacher fitted to 8 images."""
    init_default_scope('poseforge')
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session fixtures run before the per-test one-thread fixture
    try:
        teacher = MODELS.build(copy.deepcopy(TEACHER))
        teacher_batch = _fixed_batch(SimpleNamespace(model=ConfigDict(TEACHER)), tiny_synth)
        _train_on(teacher, teacher_batch, 150)
        assert _pck(teacher, teacher_batch) > 0.7
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp('kd_teacher') / 'teacher.pth'
    atomic_torch_save({'state_dict': teacher.state_dict()}, path)
    return path, teacher_batch, _fixed_batch(SimpleNamespace(model=ConfigDict(STUDENT)), tiny_synth)


def build_distiller(teacher_ckpt, **kwargs):
    init_default_scope('poseforge')
    cfg = dict(type='KDDistiller', student=copy.deepcopy(STUDENT), teacher=copy.deepcopy(TEACHER),
               teacher_checkpoint=str(teacher_ckpt), teacher_input_size=(64, 64),
               distill=copy.deepcopy(ALL_LOSSES))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_short_distillation_lowers_kd_losses_beats_an_untrained_student_teacher_frozen(
        tiny_teacher):
    ckpt, _, batch = tiny_teacher
    torch.manual_seed(0)
    # the teacher is the only target (gt_weight 0): what the student learns, it learns from it
    model = build_distiller(ckpt, gt_weight=0.0, mixup=dict(alpha=1.0, ratio=0.25))
    teacher_state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    untrained = _pck(model.student, batch)
    history = _train_on(model, batch, 120, lr=5e-3)
    assert all(h['loss_kpt'] == 0.0 for h in history)
    for name in ('kd_hm', 'kd_hm_kl', 'kd_fea', 'kd_head', 'kd_amd'):
        first = np.mean([h[name] for h in history[:5]])
        last = np.mean([h[name] for h in history[-5:]])
        assert last < 0.8 * first, (name, first, last)
    assert _pck(model.student, batch) >= untrained + 0.25
    # the teacher: no gradient, eval mode through .train(), not a single value changed
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert not model.teacher.training and model.student.training
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_state[key]), key
    # never saved with the distiller, unless asked
    keys = model.state_dict()
    assert not any(k.startswith('teacher.') for k in keys)
    assert {'kd_losses.loss_fea.align.weight', 'kd_losses.loss_head.adapter.weight'} <= set(keys)
    kept = build_distiller(ckpt, keep_teacher_in_state_dict=True)
    assert any(k.startswith('teacher.') for k in kept.state_dict())


def test_losses_are_zero_when_the_student_is_the_teacher(tiny_teacher):
    ckpt, teacher_batch, _ = tiny_teacher
    same = [dict(type='HeatmapKDLoss', name='loss_hm', mode='mse'),
            dict(type='HeatmapKDLoss', name='loss_hm_kl', mode='kl', tau=2.0),
            dict(type='FeatureKDLoss', name='loss_fea', student='student.backbone.stacks.0.fc',
                 teacher='teacher.backbone.stacks.0.fc'),
            dict(type='AMDLoss', name='loss_amd', student='student.backbone.stacks.0.fc',
                 teacher='teacher.backbone.stacks.0.fc')]
    model = build_distiller(ckpt, student=copy.deepcopy(TEACHER), teacher_input_size=None,
                            distill=same)
    model.student.load_state_dict(model.teacher.state_dict())
    model.eval()  # BatchNorm on running statistics in both
    losses = model.loss(**model.data_preprocessor(teacher_batch))
    for name in ('kd_hm', 'kd_hm_kl', 'kd_fea', 'kd_amd'):
        assert abs(losses[name].item()) < 1e-6, (name, losses[name])
    assert losses['loss_kpt'].item() > 0  # the ground truth is still there


def test_a_wrong_module_path_is_a_config_error_naming_the_closest_paths(tiny_teacher):
    ckpt = tiny_teacher[0]
    bad = [dict(type='FeatureKDLoss', name='loss_fea', student='student.backbone.decoder.7',
                teacher='teacher.backbone.stacks.0.fc')]
    with pytest.raises(ModulePathError) as err:
        build_distiller(ckpt, distill=bad)
    message = str(err.value)
    assert "'student.backbone.decoder.7'" in message
    assert 'student.backbone.decoder.0' in message and 'student.backbone.decoder.1' in message
    bad = [dict(type='HeadSharingKDLoss', name='loss_head', student='student.backbone.stem',
                teacher_head='teacher.backbone.stacks.0.scor')]
    with pytest.raises(ModulePathError, match=r"teacher\.backbone\.stacks\.0\.score"):
        build_distiller(ckpt, distill=bad)


def test_a_keypoint_subset_learns_from_the_mapped_teacher_keypoints(tiny_teacher):
    ckpt = tiny_teacher[0]
    student = copy.deepcopy(STUDENT)
    student['backbone']['num_keypoints'] = 4
    model = build_distiller(ckpt, student=student, keypoint_map=[0, 4, 8, -1],
                            distill=[ALL_LOSSES[0], ALL_LOSSES[3]])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        student_out = model.student(x, mode='tensor')
        teacher_in = model.teacher_inputs(x)
        teacher_out = model.teacher(teacher_in, mode='tensor')
    assert teacher_in.shape[-2:] == (64, 64)
    ctx = model.context(x, teacher_in, student_out, teacher_out, torch.ones(2, 4), None)
    full = resample_to_student(model.teacher.head.predict(teacher_out), (64, 64), (32, 32),
                               (8, 8))
    assert torch.allclose(ctx.teacher_on_student[:, :3], full[:, [0, 4, 8]])
    assert not ctx.teacher_on_student[:, 3].any()
    assert ctx.kd_weights.tolist() == [[1.0, 1.0, 1.0, 0.0]] * 2
    assert ctx.teacher_kd_weights.shape == (2, 21) and bool((ctx.teacher_kd_weights == 1).all())
    losses = model(x, dict(heatmaps=torch.rand(2, 4, 8, 8), keypoint_weights=torch.ones(2, 4)),
                   mode='loss')
    assert torch.isfinite(losses['loss_hm']) and torch.isfinite(losses['loss_head'])
    with pytest.raises(ConfigError, match='give keypoint_map'):
        build_distiller(ckpt, student=student)


def test_label_free_distillation_needs_no_targets(tiny_teacher):
    ckpt, _, batch = tiny_teacher
    model = build_distiller(ckpt, label_free=True, distill=ALL_LOSSES[:1])
    data = model.data_preprocessor(batch, training=True)
    losses = model(data['inputs'], {'meta': data['data_samples']['meta']}, mode='loss')
    assert 'loss_kpt' not in losses and losses['loss_hm'].item() > 0



def test_gt_weight_scales_the_students_own_loss_and_nothing_else(tiny_teacher):
    ckpt, _, batch = tiny_teacher
    data = None
    values = {}
    for alpha in (1.0, 0.25):
        torch.manual_seed(0)  # the same student both times
        model = build_distiller(ckpt, gt_weight=alpha, distill=ALL_LOSSES[:1])
        model.eval()  # BatchNorm on running statistics: the same student output both times
        data = data or model.data_preprocessor(batch)
        values[alpha] = model.loss(**data)
        own = model.student(data['inputs'], data['data_samples'], mode='loss')['loss_kpt']
        assert values[alpha]['loss_kpt'].item() == pytest.approx(alpha * own.item(), rel=1e-6)
    assert values[0.25]['loss_hm'].item() == pytest.approx(values[1.0]['loss_hm'].item(),
                                                           rel=1e-6)

# --------------------------------------------------------------------------- through the tools
def _config_file(tmp_path: Path, tiny_synth: Path, ckpt: Path) -> Path:
    """A KD config on the tiny data: the student config's runtime, the tiny pair."""
    text = f"""
_base_ = ['{ROOT}/configs/students/mobilenetv2-w0.5_synth-hands-64.py']
from poseforge.datasets.transforms.presets import topdown_pipelines
codec = {STUDENT_CODEC!r}
model = dict(_delete_=True, type='KDDistiller', student={STUDENT!r}, teacher={TEACHER!r},
             teacher_checkpoint='{ckpt}', teacher_input_size=(64, 64),
             distill=[{ALL_LOSSES[0]!r}, {ALL_LOSSES[2]!r}])
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, rotate_factor=30.0)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=1))
"""
    path = tmp_path / 'kd_tiny.py'
    path.write_text(text)
    return path


@pytest.fixture(scope='module')
def tool_run(tiny_teacher, tiny_synth, tmp_path_factory):
    """A 2-epoch distillation through tools/train.py (checkpoints after each epoch)."""
    tmp = tmp_path_factory.mktemp('kd_tools')
    config = _config_file(tmp, tiny_synth, tiny_teacher[0])
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 2,
        'train_cfg.val_interval': 2, 'val_dataloader.dataset.indices': 6,
        'test_dataloader.dataset.indices': 6})
    work = tmp / 'work'
    _ok(run_tool(str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir', str(work),
                 *as_cli(opts)))
    return SimpleNamespace(config=config, opts=opts, work=work, tmp=tmp)


class _CaptureAfterResume(Hook):
    """Records the distiller's state once the runner has resumed, then ends the run."""

    def before_train(self, runner):
        model = runner.model
        loss = model.kd_losses['loss_fea']
        self.student = {k: v.clone() for k, v in model.student.state_dict().items()}
        self.align = {k: v.clone() for k, v in loss.state_dict().items()}
        self.progress = model.training_progress()
        self.factor = loss.schedule(self.progress)
        runner.train_loop.stop_training = True


def test_resume_restores_the_student_the_align_conv_and_the_schedule(tool_run):
    from poseforge.engine.runner import PoseRunner
    epoch1 = tool_run.work / 'epoch_1.pth'
    saved = safe_load(epoch1)['state_dict']
    assert not any(k.startswith('teacher.') for k in saved)  # the teacher is not saved
    cfg = load_config(str(tool_run.config), dict(tool_run.opts))
    cfg.work_dir = str(tool_run.tmp / 'resumed')
    cfg.resume, cfg.load_from = True, str(epoch1)
    runner = PoseRunner.from_cfg(cfg)
    fresh_align = {k: v.clone() for k, v in runner.model.kd_losses['loss_fea'].state_dict().items()}
    capture = _CaptureAfterResume()
    runner.register_hook(capture)
    runner.train()
    assert capture.progress['epoch'] == 1 and capture.progress['max_epochs'] == 2
    assert capture.factor == pytest.approx(0.5)  # linear decay at epoch 1 of 2
    for key, value in capture.student.items():
        assert torch.equal(value, saved[f'student.{key}']), key
    for key, value in capture.align.items():
        assert torch.equal(value, saved[f'kd_losses.loss_fea.{key}']), key
        assert not torch.equal(value, fresh_align[key])  # trained, restored, not re-initialised


def test_exported_student_predicts_exactly_as_the_distillers_student(tool_run, tiny_teacher):
    import export_student
    from poseforge.distillers.export import build_distiller as build_for_export
    from poseforge.distillers.export import load_distiller_checkpoint
    ckpt = tool_run.work / 'epoch_2.pth'
    out = tool_run.tmp / 'student.pth'
    export_student.main([str(tool_run.config), str(ckpt), '--out', str(out)])
    exported = safe_load(out)
    assert all(not k.startswith(('teacher.', 'kd_losses.', 'student.'))
               for k in exported['state_dict'])
    init_default_scope('poseforge')
    cfg = load_config(str(out.with_suffix('.py')))
    plain = MODELS.build(cfg.model)
    plain.load_state_dict(exported['state_dict'], strict=True)
    distiller = build_for_export(load_config(str(tool_run.config)))
    load_distiller_checkpoint(distiller, ckpt)
    batch = tiny_teacher[2]
    plain.eval()
    distiller.eval()
    with torch.no_grad():
        ours = plain.test_step(batch)
        theirs = distiller.test_step(batch)
    for a, b in zip(ours, theirs):
        assert np.array_equal(a['pred_keypoints'], b['pred_keypoints'])
        assert np.array_equal(a['pred_scores'], b['pred_scores'])


def test_kd_ticket_pruning_reports_the_real_sparsity_of_the_exported_student(tool_run):
    import prune_student
    work = tool_run.tmp / 'prune'
    opts = [f'{k}={v}' for k, v in tool_run.opts.items()
            if k.startswith(('train_dataloader', 'val_dataloader', 'test_dataloader'))]
    # lr 0: the round's retraining changes no weight, so its survivors must be the dense ones
    opts.append('optim_wrapper.optimizer.lr=0.0')
    rows = prune_student.main([str(tool_run.config), str(tool_run.work / 'epoch_2.pth'),
                               '--rounds', '1', '--rate', '0.4', '--epochs', '1',
                               '--work-dir', str(work), '--cfg-options', *opts])
    assert [r['round'] for r in rows] == [0, 1]
    pruned = rows[1]
    state = safe_load(pruned['student'])['state_dict']
    weights = [state[k] for k in prunable_keys(state)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    total = sum(w.numel() for w in weights)
    assert pruned['sparsity'] == zeros / total
    assert pruned['sparsity'] == pytest.approx(0.4, abs=1e-3)
    assert rows[0]['sparsity'] < 0.01  # the dense round
    assert not any(k.endswith(('_orig', '_mask')) for k in state)  # permanent, plain keys
    dense = safe_load(rows[0]['student'])['state_dict']
    for key in prunable_keys(state):  # the round started from round 0's weights, not scratch
        kept = state[key] != 0
        assert torch.equal(state[key][kept], dense[key][kept]), key
    assert set(pruned['metrics']) >= {'PCK@0.2', 'AUC', 'EPE'}
    table = (work / 'prune.md').read_text()
    assert '| 1 | 0.400 | 0.400 |' in table
    assert json.loads((work / 'prune.json').read_text())['rows'][1]['zeros'] == zeros
