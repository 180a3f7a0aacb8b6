"""Dump the resolved model / pipelines / hooks of every config as JSON, or compare two dumps.

A refactor of ``configs/`` or of a registered default should leave what each config builds
unchanged except where that is the point; this shows it::

    python tools/dump_configs.py --out before.json          # on the old commit
    python tools/dump_configs.py --out after.json --diff before.json

``--diff`` prints every config and key path that differs and exits 1 when any does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mmengine.config import Config

from poseforge.utils.fileio import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def leaf_configs(root: Path) -> list[Path]:
    """Every runnable config: not under ``_base_/`` and not a ``_``-prefixed shared base."""
    return sorted(p for p in (root / 'configs').rglob('*.py')
                  if '_base_' not in p.parts and not p.name.startswith('_'))


def resolved(path: Path) -> dict[str, Any]:
    """What a config builds: its codec, model, custom hooks and each loader's pipeline."""
    cfg = Config.fromfile(str(path)).to_dict()
    entry = {key: cfg.get(key) for key in ('codec', 'model', 'custom_hooks')}
    for loader in LOADERS:
        if loader in cfg:
            entry[loader] = (cfg[loader].get('dataset') or {}).get('pipeline')
    return json.loads(json.dumps(entry, sort_keys=True, default=repr))  # tuples -> lists


def dump(root: Path = ROOT) -> dict[str, dict]:
    return {str(p.relative_to(root)): resolved(p) for p in leaf_configs(root)}


def differences(old: Any, new: Any, path: str = '') -> list[str]:
    """Key paths where two JSON-like values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            where = f'{path}.{key}' if path else str(key)
            if key not in old or key not in new:
                out.append(f"{where}: {'added' if key not in old else 'removed'}")
            else:
                out += differences(old[key], new[key], where)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b,
                                                                                  f'{path}[{i}]')]
    return [] if old == new else [f'{path}: {old!r} -> {new!r}']


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', help='write the dump here (JSON)')
    parser.add_argument('--diff', help='an earlier dump to compare with')
    args = parser.parse_args(argv)
    current = dump()
    if args.out:
        atomic_write_json(current, args.out, indent=1, sort_keys=True)
    if not args.diff:
        if not args.out:
            print(json.dumps(current, indent=1, sort_keys=True))
        return 0
    lines = differences(json.loads(Path(args.diff).read_text()), current)
    print('\n'.join(lines) if lines else f'{len(current)} configs: no difference')
    return 1 if lines else 0


if __name__ == '__main__':
    sys.exit(main())
