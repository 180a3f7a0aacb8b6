"""tools/compare.py's bookkeeping: NSRM-mPCK from a predictions dump, R-MGMN's extra row."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

import compare
from conftest import ROOT


def test_dump_metrics_scores_the_grid_keypoints(tmp_path) -> None:
    gt = [[0, 0], [20, 0], [0, 10]]  # tight box side 20: t = 0.04 .. 0.12 -> 0.8 .. 2.4 px
    grid = [[1, 0], [20, 0], [0, 12]]  # 1 px: from t = 0.06; 0; 2 px: only t = 0.12
    record = dict(pred_keypoints=gt, pred_keypoints_grid=grid, keypoints=gt,
                  keypoints_visible=[1, 1, 1], bbox=[0, 0, 20, 10])
    dump = tmp_path / 'predictions.json'
    dump.write_text(json.dumps([record]))
    out = compare.dump_metrics(str(dump))
    per_t = [1 / 3, 2 / 3, 2 / 3, 2 / 3, 1.0]
    assert math.isclose(out['nsrm_mpck'], float(np.mean(per_t)))
    assert out['pck_curve'][-1] == 1.0  # the refined keypoints are perfect
    del record['pred_keypoints_grid']
    dump.write_text(json.dumps([record]))
    assert math.isnan(compare.dump_metrics(str(dump))['nsrm_mpck'])


def test_rmgmn_gets_a_unary_branch_row(tmp_path) -> None:
    config = 'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py'
    assert compare.EXTRA_OUTPUTS[compare.head_type(config)][0][1] == [
        'model.head.predict_from=unary']
    assert compare.head_type('configs/quickstart/cpm-light_synth-hands-128.py') \
        not in compare.EXTRA_OUTPUTS
    row = dict(name='rmgmn', metrics={'PCK@0.2': 0.5, 'AUC': 0.4, 'EPE': 9.0}, nsrm_mpck=0.3,
               params=10, train_samples_per_s=1.0, infer_ms=2.0)
    rows = [row, dict(row, name='rmgmn (unary branch)', metrics={'PCK@0.2': 0.4})]
    args = argparse.Namespace(seed=0, epochs=5, data_root='data/synth_hands', threads=1)
    text = (tmp_path / 't.md').read_text() if compare.write_table(
        rows, args, str(tmp_path / 't.md')) else ''
    assert 'budget (5 epochs)' in text and '| NSRM-mPCK |' in text
    assert 'batch 32, 1 thread(s)' in text  # the timing columns say how they were run
    assert '| rmgmn (unary branch) | 0.4000 |' in text and '| 0.3000 |' in text
    assert (ROOT / config).is_file()


def test_collect_builds_one_table_from_saved_rows_and_refuses_other_options(tmp_path) -> None:
    """Rows trained by separate (parallel) runs make one table only when they were run with
    the same options: budget, seed, data."""
    configs = ['configs/quickstart/cpm-light_synth-hands-128.py',
               'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py']

    def cli(epochs: int = 5) -> list[str]:
        return ['--configs', *configs, '--epochs', str(epochs), '--work-dir', str(tmp_path),
                '--threads', '1', '--collect']
    common = cli()
    options = compare.common_options(compare.parse_args(common))
    curve = list(np.linspace(0, 1, len(compare.THRESHOLDS)))
    for i, config in enumerate(configs):
        row = dict(name=f'model{i}', metrics={'PCK@0.2': 0.5 + i / 10, 'AUC': 0.4, 'EPE': 9.0},
                   nsrm_mpck=0.3, params=10, train_samples_per_s=1.0, infer_ms=2.0,
                   pck_curve=curve)
        work = tmp_path / Path(config).stem
        work.mkdir()
        (work / compare.ROWS_FILE).write_text(json.dumps(dict(options=options, rows=[row])))
    rows = compare.main([*common, '--out', str(tmp_path / 'table.md')])
    assert [r['name'] for r in rows] == ['model0', 'model1']
    text = (tmp_path / 'table.md').read_text()
    assert '| model0 | 0.5000 |' in text and '| model1 | 0.6000 |' in text
    assert (tmp_path / 'table_pck.png').stat().st_size > 0
    with pytest.raises(SystemExit, match='not .*train_cfg.max_epochs=6'):
        compare.main([*cli(epochs=6), '--out', str(tmp_path / 'other.md')])
    (tmp_path / Path(configs[1]).stem / compare.ROWS_FILE).unlink()
    with pytest.raises(SystemExit, match='no rows for configs/rmgmn'):
        compare.main([*common, '--out', str(tmp_path / 'other.md')])
