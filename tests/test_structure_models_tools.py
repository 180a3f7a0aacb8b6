"""NSRM, SIA-GCN and R-MGMN go through the same tools as CPM: train, save, resume, evaluate."""
from __future__ import annotations

import json

import pytest

from conftest import ROOT, as_cli, tiny_cfg_options
from test_train_eval_integration import _last_checkpoint, _ok, run_tool

from poseforge.engine.checkpoint import safe_load

pytestmark = pytest.mark.slow
TOOLS = ROOT / 'tools'
CONFIGS = {
    'nsrm': ROOT / 'configs/nsrm/nsrm_lpm-g1and6_synth-hands-128.py',
    'sia_gcn': ROOT / 'configs/sia_gcn/sia-gcn_light_synth-hands-128.py',
    'rmgmn': ROOT / 'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py',
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_train_resume_and_evaluate_through_the_tools(name, tiny_synth, tmp_path):
    config, work = str(CONFIGS[name]), tmp_path / name
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 5, 'val_dataloader.dataset.indices': 4,
        'test_dataloader.dataset.indices': 4, 'load_from': None})
    _ok(run_tool(str(TOOLS / 'train.py'), config, '--work-dir', str(work), *as_cli(opts)))
    first = safe_load(_last_checkpoint(work))
    assert first['meta']['iter'] == 2

    opts['train_cfg.max_epochs'] = 2
    _ok(run_tool(str(TOOLS / 'train.py'), config, '--work-dir', str(work), '--resume',
                 *as_cli(opts)))
    second = safe_load(_last_checkpoint(work))
    assert second['meta']['epoch'] == 2 and second['meta']['iter'] == 4

    out = tmp_path / f'{name}.json'
    _ok(run_tool(str(TOOLS / 'eval.py'), config, str(_last_checkpoint(work)), '--work-dir',
                 str(work), '--out', str(out), *as_cli(opts)))
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics['PCK@0.2'] <= 1.0 and metrics['EPE'] > 0
