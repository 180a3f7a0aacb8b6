"""tools/quickstart_summary.py: the quick start's total and each step's share (README figures)."""
from __future__ import annotations

import quickstart_summary


def test_summary_totals_the_steps_in_order_with_their_shares(tmp_path):
    steps = tmp_path / 'steps.tsv'
    steps.write_text('venv 100 160\ngeneration 160 190\ntraining 190 370\nevaluation 370 400\n')
    assert quickstart_summary.read_steps(steps) == [
        ('venv', 60), ('generation', 30), ('training', 180), ('evaluation', 30)]
    assert quickstart_summary.main([str(steps)]) == (
        'quick start: 5 min 0 s (venv 60 s, 20%; generation 30 s, 10%; training 180 s, 60%; '
        'evaluation 30 s, 10%)')


def test_summary_of_steps_already_done(tmp_path):
    steps = tmp_path / 'steps.tsv'
    steps.write_text('venv 5 5\ngeneration 5 5\n')
    assert quickstart_summary.main([str(steps)]) == (
        'quick start: 0 min 0 s (venv 0 s; generation 0 s)')
