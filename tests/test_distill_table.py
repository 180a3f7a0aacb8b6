"""tools/distill_table.py: what each row is, and a table that states its budget."""
from __future__ import annotations

import argparse

import pytest

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


def test_teacher_epochs_and_differences_to_the_baseline_are_columns():
    args = argparse.Namespace(epochs=None, seed=0, data_root='d', cfg_options=[], title='',
                              threads=1, baseline='configs/students/s.py')
    row = dict(params=1, gflop=0.1, train_samples_per_s=1.0, infer_ms=1.0, train_minutes=1.0,
               batch_size=32)
    rows = [dict(row, name='teacher', config='configs/kd/t.py', epochs=10,
                 metrics={'PCK@0.2': 0.9, 'EPE': 5.0}),
            dict(row, name='s', config='configs/students/s.py', epochs=5,
                 metrics={'PCK@0.2': 0.5, 'EPE': 20.0}),
            dict(row, name='kd (student)', config='configs/kd/k.py', epochs=5,
                 metrics={'PCK@0.2': 0.45, 'EPE': 21.5})]
    text = distill_table.markdown(rows, args)
    header = next(line for line in text.splitlines() if line.startswith('| model'))
    assert header.endswith('| epochs | ΔPCK@0.2 | ΔEPE (px) |') and 'minus `s`' in text
    separator = text.splitlines()[text.splitlines().index(header) + 1]
    assert separator.count('|') == header.count('|')
    assert '| 10 | +0.4000 | -15.00 |' in text       # the teacher, on its own schedule
    assert '| 5 | -0.0500 | +1.50 |' in text          # a method that did not help reads so
    assert '5/10 epochs' in text


def test_an_evaluated_row_is_reused_only_for_the_same_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(distill_table, 'ROOT_DIR', str(tmp_path))
    (tmp_path / 'w').mkdir()
    (tmp_path / 'w' / 'row_student.json').write_text('{"trained_checkpoint": "a.pth", "x": 1}')
    args = argparse.Namespace(re_evaluate=False)
    assert distill_table.cached_row('w', 'student', 'a.pth', args)['x'] == 1
    assert distill_table.cached_row('w', 'student', 'b.pth', args) is None  # retrained
    assert distill_table.cached_row('w', '', 'a.pth', args) is None  # another mode
    assert distill_table.cached_row('w', 'student', 'a.pth',
                                    argparse.Namespace(re_evaluate=True)) is None


@pytest.mark.parametrize('kd, student', [
    ('configs/kd/kd-hm-fea_hg4-to-mbv2_coco-256x192.py',
     'configs/students/mobilenetv2-w1.0_coco-256x192.py'),
    ('configs/kd/kd-hm-fea_cpm-to-mbv2_onehand10k-368.py',
     'configs/students/mobilenetv2-w1.0_onehand10k-368.py')])
def test_real_dataset_kd_configs_build_with_their_student_alone_row(kd, student):
    """The COCO / OneHand10K rows a user with data runs: the distiller builds (module paths
    resolve, the alignment conv is sized by a probe), on the student's schedule and batch."""
    distilled, alone = distill_table.describe(kd, []), distill_table.describe(student, [])
    assert distilled['distiller'] and not alone['distiller']
    assert (distilled['epochs'], distilled['batch_size']) == (alone['epochs'], alone['batch_size'])
    assert distilled['params'] > 10 * alone['params']  # the teacher dwarfs the student
