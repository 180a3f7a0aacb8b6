"""Shared fixtures: a tiny generated hand dataset and small configs built on it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))


def _origin_checkout() -> Path | None:
    """The local repository this one was cloned from, if any (``git clone /work/main /tmp/x``)."""
    try:
        url = subprocess.run(['git', 'remote', 'get-url', 'origin'], cwd=ROOT, text=True,
                             capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(url[len('file://'):] if url.startswith('file://') else url)
    return path if url and path.is_dir() else None


def locate_fixtures() -> Path:
    """The shared sample files: ``$POSEFORGE_FIXTURES``, else ``shared/fixtures`` beside this
    checkout, else beside the checkout it was cloned from (so a clone made anywhere, as CI
    makes one, still finds them). The first candidate is returned when none exists, for the
    error message."""
    candidates = [ROOT.parent / 'shared' / 'fixtures']
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.resolve().parent / 'shared' / 'fixtures')
    if os.environ.get('POSEFORGE_FIXTURES'):
        candidates.insert(0, Path(os.environ['POSEFORGE_FIXTURES']))
    return next((c for c in candidates if c.is_dir()), candidates[0])


FIXTURES = locate_fixtures()


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
        pytest.fail(f'shared fixtures not found at {FIXTURES} (set POSEFORGE_FIXTURES)')
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


TINY_TRAIN_CONFIG = '''# The quick-start config shrunk for tests (conftest.tiny_train_config).
_base_ = [{base!r}]
from poseforge.datasets.transforms.presets import topdown_pipelines

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=1.0)
model = dict(head=dict(decoder=codec))
train_pipeline, test_pipeline = topdown_pipelines(codec, padding=1.25, rotate_factor=45.0,
                                                  scale_factor=(0.75, 1.25))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={root!r}, pipeline=train_pipeline, indices=8))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={root!r}, pipeline=test_pipeline, indices=4))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
custom_hooks = []  # no curves.png: matplotlib would cost more than the training
'''


@pytest.fixture(scope='session')
def tiny_train_config(tiny_synth, tmp_path_factory) -> Path:
    """The quick-start model at 64x64 on ``tiny_synth``: 2 epochs of 2 iterations (8 samples,
    batch 4, augmentation on), validation on 4 samples and a checkpoint every epoch, no
    dataloader workers. A few CPU seconds per run."""
    path = tmp_path_factory.mktemp('configs') / 'tiny_cpm.py'
    path.write_text(TINY_TRAIN_CONFIG.format(base=QUICKSTART_CONFIG, root=str(tiny_synth)))
    return path


@pytest.fixture(scope='session')
def tiny_sequences(tmp_path_factory) -> Path:
    """Generated hand sequences (one view, 8 frames each, 64 px): 3 train and 1 test sequence,
    made once per session for the clip and TASSN tests."""
    from poseforge.generation.synth_hands import GenerationConfig, generate_dataset
    out = tmp_path_factory.mktemp('sequences')
    generate_dataset(out, num=4, views=1, seed=5, size=64, workers=1, test_fraction=0.25,
                     cfg=GenerationConfig(sequence_length=8, gallery=False))
    return out


@pytest.fixture
def poseforge_scope_keeping_global_rngs():
    """The registry scope, and the global RNGs left as found (unseeded clips draw from numpy's
    global generator; later tests must not see a different stream)."""
    from mmengine.registry import init_default_scope

    from poseforge.utils.seeding import rng_state, set_rng_state
    state = rng_state()
    init_default_scope('poseforge')
    yield
    set_rng_state(state)
