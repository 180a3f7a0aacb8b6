"""OKDHP end to end: it learns, it runs through the tools (train, resume, eval, export, the
exported student in eval / init_model / the demo), and two gloo processes train as one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from conftest import ROOT, as_cli, tiny_cfg_options
from okdhp_ddp_worker import loss_curve
from test_models_learn import _fixed_batch, _pck
from test_train_eval_integration import _free_port, _last_checkpoint, _ok, run_tool

from poseforge.engine.checkpoint import safe_load
from poseforge.registry import MODELS
from poseforge.utils.config import load_config

pytestmark = pytest.mark.slow
TOOLS = ROOT / 'tools'
CONFIG = str(ROOT / 'configs' / 'okdhp' / 'okdhp-light_hg2_synth-hands-64.py')
NARROW = {'model.student.backbone.channels': 32}


def test_short_okdhp_run_lowers_every_loss_and_its_student_beats_an_untrained_one(tiny_synth):
    torch.manual_seed(0)
    init_default_scope('poseforge')
    cfg = load_config(CONFIG, NARROW)
    model = MODELS.build(cfg.model)
    batch = _fixed_batch(SimpleNamespace(model=cfg.model.student), tiny_synth)
    hub = MessageHub.get_current_instance()
    previous = hub.get_info('epoch', None)
    hub.update_info('epoch', cfg.model.rampup_epochs)  # the KD term at full weight
    try:
        optim = torch.optim.Adam(model.parameters(), lr=2e-3)
        history = []
        for _ in range(50):
            losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
            loss = sum(v for k, v in losses.items() if k.startswith('loss'))
            optim.zero_grad()
            loss.backward()
            optim.step()
            history.append({k: v.item() for k, v in losses.items()})
    finally:
        hub.update_info('epoch', previous if previous is not None else 0)
    names = [k for k in history[0] if k.startswith('loss')]
    assert set(names) == {'loss_shared', 'loss_branch0', 'loss_branch1', 'loss_branch2',
                          'loss_kd', 'loss_ens'}
    for name in names:
        first = np.mean([h[name] for h in history[:3]])
        last = np.mean([h[name] for h in history[-3:]])
        assert last < 0.5 * first, (name, first, last)
    state, student_cfg = model.export_student()
    torch.manual_seed(0)
    untrained = MODELS.build(student_cfg)
    student = MODELS.build(student_cfg)
    student.load_state_dict(state, strict=True)
    before, after = _pck(untrained, batch), _pck(student, batch)
    assert after >= before + 0.3, (before, after)


def test_train_resume_eval_export_and_the_student_loads_everywhere(tiny_synth, tmp_path,
                                                                   capsys):
    import export_student
    import webcam_demo
    work = tmp_path / 'work'
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1, 'val_dataloader.dataset.indices': 6,
        'test_dataloader.dataset.indices': 6, **NARROW})
    _ok(run_tool(str(TOOLS / 'train.py'), CONFIG, '--work-dir', str(work), *as_cli(opts)))
    first = safe_load(_last_checkpoint(work))
    assert first['meta']['epoch'] == 1 and first['meta']['iter'] == 2
    assert any(k.startswith('fau.') for k in first['state_dict'])
    opts['train_cfg.max_epochs'] = 2
    resumed = _ok(run_tool(str(TOOLS / 'train.py'), CONFIG, '--work-dir', str(work),
                           '--resume', *as_cli(opts)))
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 1, iter: 2' in log and 'loss_kd' in log and 'kd_ramp' in log
    ckpt = _last_checkpoint(work)
    second = safe_load(ckpt)
    assert second['meta']['epoch'] == 2 and second['meta']['iter'] == 4

    def evaluate(config, checkpoint, name, options):
        out = tmp_path / f'{name}.json'
        _ok(run_tool(str(TOOLS / 'eval.py'), str(config), str(checkpoint), '--work-dir',
                     str(tmp_path / f'eval_{name}'), '--out', str(out), *as_cli(options)))
        return json.loads(out.read_text())

    student = evaluate(CONFIG, ckpt, 'student', opts)  # the distiller config, unchanged tool
    assert set(student) >= {'PCK@0.2', 'AUC', 'EPE'}

    out = tmp_path / 'export' / 'student.pth'
    export_student.main([CONFIG, str(ckpt), '--out', str(out), '--branch', '0',
                         *as_cli(NARROW)])
    assert out.with_suffix('.py').is_file()
    exported = safe_load(out)
    assert not any(k.startswith(('fau.', 'branches.')) for k in exported['state_dict'])
    assert exported['meta']['dataset_meta']['num_keypoints'] == 21
    plain_opts = {k: v for k, v in opts.items() if not k.startswith('model.')}
    alone = evaluate(out.with_suffix('.py'), out, 'alone', plain_opts)
    assert alone == pytest.approx(student, rel=1e-6)  # the same predictions, alone

    from poseforge.apis import inference_topdown, init_model
    model = init_model(str(out.with_suffix('.py')), str(out))
    assert type(model).__name__ == 'TopdownPoseEstimator'
    result = inference_topdown(model, np.full((96, 96, 3), 128, np.uint8))[0]
    assert result['keypoints'].shape == (21, 2)

    import cv2
    video = tmp_path / 'in.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (96, 96))
    for i in range(3):
        writer.write(np.full((96, 96, 3), 60 * i, np.uint8))
    writer.release()
    capsys.readouterr()
    assert webcam_demo.main([str(out.with_suffix('.py')), str(out), '--source', str(video),
                             '--out', str(tmp_path / 'out.mp4'), '--no-show']) == 0
    assert '3 frames' in capsys.readouterr().out

    with pytest.raises(SystemExit) as exit_info:  # a plain checkpoint is not a distiller's
        export_student.main([CONFIG, str(out), '--out', str(tmp_path / 'x.pth'),
                             *as_cli(NARROW)])
    assert exit_info.value.code == 2 and 'does not fit' in capsys.readouterr().err


def test_two_gloo_processes_match_one_process_loss_curve(tiny_synth, tmp_path):
    torch.manual_seed(0)
    alone = loss_curve(str(tiny_synth), world_size=1)
    out = tmp_path / 'ddp.json'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--master_addr', '127.0.0.1', '--master_port', str(_free_port()),
         str(ROOT / 'tests' / 'okdhp_ddp_worker.py'), str(tiny_synth), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp['world_size'] == 2 and ddp['curve']['ranks_agree'] == [1.0]
    for key in ('loss', 'loss_shared', 'loss_branch0', 'loss_branch2', 'loss_ens', 'kd_kl'):
        assert len(alone[key]) == 4
        np.testing.assert_allclose(ddp['curve'][key], alone[key], rtol=1e-3, err_msg=key)
    assert alone['loss'][-1] < alone['loss'][0]  # it trained


def test_benchmark_times_the_whole_okdhp_network_and_reports_mfu(tiny_synth, capsys):
    import benchmark
    common = ['--iters', '1', '--batch-size', '1', '--peak-tflops', '0.5', '--cfg-options',
              f'train_dataloader.dataset.data_root={tiny_synth}']
    plain = benchmark.main(['infer', str(ROOT / 'configs' / 'hourglass' /
                                         'hourglass-light2_synth-hands-64.py'), *common])
    okdhp = benchmark.main(['infer', CONFIG, *common])
    train = benchmark.main(['train', CONFIG, *common])
    # every branch and the FAU run: more than the plain 2-stack student it ships
    assert okdhp['gflop_per_sample'] > 1.5 * plain['gflop_per_sample'] > 0
    assert train['gflop_per_sample'] > 2 * okdhp['gflop_per_sample']  # forward + backward
    for result in (plain, okdhp, train):
        assert result['mfu'] == pytest.approx(result['gflops_per_s'] / 500, abs=1e-4)
