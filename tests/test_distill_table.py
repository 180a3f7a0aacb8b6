"""tools/distill_table.py: what each row is, and a table that states its budget."""
from __future__ import annotations

import argparse

from conftest import ROOT

import distill_table


def test_rows_know_distillers_and_count_what_runs():
    plain = distill_table.describe('configs/hourglass/hourglass-light2_synth-hands-64.py',
                                   ['model.backbone.channels=16'])
    okdhp = distill_table.describe('configs/okdhp/okdhp-light_hg2_synth-hands-64.py',
                                   ['model.student.backbone.channels=16'])
    assert not plain['distiller'] and okdhp['distiller']
    assert plain['epochs'] == okdhp['epochs'] and plain['batch_size'] == okdhp['batch_size']
    assert okdhp['params'] > plain['params'] > 0  # three branches and the FAU
    assert distill_table._options_dict(['a.b=1', 'c=(2,3)']) == {'a.b': 1, 'c': (2, 3)}
    assert (ROOT / 'tools' / 'distill_table.py').is_file()


def test_table_states_budget_seed_modes_and_columns():
    args = argparse.Namespace(epochs=None, seed=7, data_root='data/x', cfg_options=['k=v'],
                              title='T', threads=1)
    row = dict(metrics={'PCK@0.2': 0.5, 'AUC': 0.25, 'EPE': 9.0}, params=1234, gflop=0.1,
               train_samples_per_s=10.0, infer_ms=2.0, train_minutes=3.0, epochs=6,
               batch_size=32)
    text = distill_table.markdown([dict(row, name='base'),
                                   dict(row, name='okdhp (ensemble)', params=5678)], args)
    assert text.startswith('T\n')
    assert "6 epochs (each config's schedule), batch 32, seed 7" in text
    assert 'data `data/x`, options `k=v`' in text and '1 thread(s)' in text
    assert '| okdhp (ensemble) | 0.5000 | 0.2500 | 9.00 | 5,678 | 0.100 |' in text
