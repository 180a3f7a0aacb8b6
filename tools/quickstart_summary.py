#!/usr/bin/env python
"""Print how long ``make quickstart`` took and each step's share, from its ``steps.tsv``.

    python tools/quickstart_summary.py work_dirs/quickstart/steps.tsv

Each line of the file is ``step start_s end_s`` (``date +%s`` around each step of the Makefile
recipe); the summary is what the README quotes for the quick start.
"""
from __future__ import annotations

import sys
from pathlib import Path


def read_steps(path: str | Path) -> list[tuple[str, int]]:
    """``[(step, seconds), ...]`` in the order the steps ran."""
    steps = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            name, start, end = line.split()
            steps.append((name, int(end) - int(start)))
    return steps


def summary(steps: list[tuple[str, int]]) -> str:
    """``quick start: 4 min 50 s (venv 61 s, 21%; generation ...)``."""
    total = sum(seconds for _, seconds in steps)
    minutes, seconds = divmod(total, 60)
    parts = [f'{name} {s} s, {100 * s / total:.0f}%' if total else f'{name} {s} s'
             for name, s in steps]
    return f'quick start: {minutes} min {seconds} s ({"; ".join(parts)})'


def main(argv: list[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit('usage: quickstart_summary.py STEPS_TSV')
    line = summary(read_steps(args[0]))
    print(line)
    return line


if __name__ == '__main__':
    main()
