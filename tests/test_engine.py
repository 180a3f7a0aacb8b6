"""Engine pieces: bf16 autocast wrapper, curve history hook, CPU distributed set-up."""
from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from poseforge.engine.distributed import prepare_distributed
from poseforge.engine.hooks import CurveHistoryHook
from poseforge.engine.optim_wrapper import BF16AutocastOptimWrapper


def test_bf16_wrapper_autocasts_the_forward_pass_and_steps():
    model = torch.nn.Linear(4, 2)
    wrapper = BF16AutocastOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        out = model(torch.ones(1, 4))
        assert out.dtype == torch.bfloat16
    assert not torch.is_autocast_enabled('cpu')
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().sum())
    assert not torch.equal(before, model.weight)


def test_bf16_wrapper_only_if_native_falls_back_to_float32(monkeypatch):
    """The quick start asks for bf16 only where the CPU has it: without native bf16 the
    forward pass stays float32 (emulated bf16 would be slower), and with it autocast is on."""
    import poseforge.engine.optim_wrapper as ow
    model = torch.nn.Linear(4, 2)
    for native, dtype in ((False, torch.float32), (True, torch.bfloat16)):
        monkeypatch.setattr(ow, 'has_native_bf16', lambda device, native=native: native)
        wrapper = BF16AutocastOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                           only_if_native=True)
        with wrapper.optim_context(model):
            assert model(torch.ones(1, 4)).dtype == dtype
    plain = BF16AutocastOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with plain.optim_context(model):  # the default (--amp) autocasts whatever the CPU
        assert model(torch.ones(1, 4)).dtype == torch.bfloat16


def test_curve_history_survives_a_checkpoint_and_writes_files(tmp_path):
    hook = CurveHistoryHook(interval=2)
    runner = SimpleNamespace(iter=0, work_dir=str(tmp_path),
                             logger=SimpleNamespace(info=lambda msg: None), rank=0)
    for i in range(4):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs={'loss': torch.tensor(1.0 / (i + 1))})
    assert hook.history['train']['iter'] == [1, 2, 4]
    hook.after_val_epoch(runner, {'PCK@0.2': 0.5, 'EPE': 12.0})
    checkpoint: dict = {}
    hook.before_save_checkpoint(runner, checkpoint)
    resumed = CurveHistoryHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    assert resumed.history == hook.history
    saved = json.loads((tmp_path / 'history.json').read_text())
    assert saved['val']['PCK@0.2'] == [0.5] and (tmp_path / 'curves.png').stat().st_size > 0


def test_cpu_launch_uses_a_cpu_ddp_wrapper(monkeypatch):
    cfg = Config(dict(model=dict(type='X')))
    prepare_distributed(cfg, 'none')
    assert cfg.launcher == 'none' and 'model_wrapper_cfg' not in cfg
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: False)
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda backend, timeout: calls.append((backend, timeout)))
    prepare_distributed(cfg, 'pytorch')
    # gloo, with the documented default timeout (no env_cfg in this config)
    assert calls == [('gloo', datetime.timedelta(seconds=600))]
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'


def test_eval_progress_bar_counts_batches(capsys):
    from poseforge.engine.hooks import EvalProgressHook
    hook = EvalProgressHook()
    runner = SimpleNamespace(rank=0, test_dataloader=[0, 1, 2])
    hook.before_test_epoch(runner)
    for i in range(3):
        hook.after_test_iter(runner, i)
    assert hook._bar.n == 3 and hook._bar.total == 3
    hook.after_test_epoch(runner)
    assert hook._bar is None and 'testing' in capsys.readouterr().err
    quiet = EvalProgressHook()
    quiet.before_test_epoch(SimpleNamespace(rank=1, test_dataloader=[0]))
    assert quiet._bar is None  # other ranks stay silent


@pytest.mark.parametrize('cuda, given, expected', [(False, None, False), (True, None, True),
                                                    (True, False, False)])
def test_dataloaders_pin_memory_when_a_gpu_trains(monkeypatch, cuda, given, expected):
    from mmengine.registry import init_default_scope

    from poseforge.engine.runner import PoseRunner
    init_default_scope('poseforge')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = dict(dataset=list(range(8)), batch_size=4, num_workers=0,
               sampler=dict(type='DefaultSampler', shuffle=False))
    if given is not None:
        cfg['pin_memory'] = given
    loader = PoseRunner.build_dataloader(cfg, seed=0)
    assert loader.pin_memory is expected
    assert 'pin_memory' not in cfg or cfg['pin_memory'] is given  # the config is not edited
