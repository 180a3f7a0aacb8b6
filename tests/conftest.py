"""Shared fixtures: a tiny generated hand dataset and small configs built on it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / 'shared' / 'fixtures'
sys.path.insert(0, str(ROOT / 'tools'))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread per test process: the suite runs on 2 shared cores, where two
    threads per process oversubscribe them (and tests assert behaviour, never speed)."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope='session')
def fixtures_dir() -> Path:
    """The real sample files beside the project (never copied into it)."""
    if not FIXTURES.is_dir():
        pytest.fail(f'shared fixtures not found at {FIXTURES}')
    return FIXTURES


@pytest.fixture(scope='session')
def tiny_synth(tmp_path_factory) -> Path:
    """A few dozen generated hand images (train and test splits), made once per session."""
    from poseforge.generation.synth_hands import generate_dataset
    out = tmp_path_factory.mktemp('synth')
    generate_dataset(out, num=24, views=2, seed=3, size=128, workers=1)
    return out


def tiny_cfg_options(data_root: Path, **extra) -> dict:
    """``--cfg-options`` that shrink the quick-start config to seconds of CPU work."""
    opts = {
        'train_dataloader.dataset.data_root': str(data_root),
        'val_dataloader.dataset.data_root': str(data_root),
        'test_dataloader.dataset.data_root': str(data_root),
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'default_hooks.logger.interval': 1,
    }
    opts.update(extra)
    return opts


def as_cli(opts: dict) -> list[str]:
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


QUICKSTART_CONFIG = str(ROOT / 'configs' / 'quickstart' / 'cpm-light_synth-hands-128.py')
