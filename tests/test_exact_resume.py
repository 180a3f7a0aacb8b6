"""Exact resume: a run stopped after epoch 1 and resumed ends bit for bit where the
uninterrupted run ends, with 0 and 2 dataloader workers (the 2-process gloo case is in
test_train_eval_integration.py); and the seeding that makes it so."""
from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from forked_tool import run_tool

from poseforge.engine.checkpoint import safe_load
from poseforge.engine.reproducibility import seed_worker

pytestmark = pytest.mark.slow


def _workers(n: int) -> list[str]:
    return ['--cfg-options', f'train_dataloader.num_workers={n}',
            f'train_dataloader.persistent_workers={n > 0}']


def _flatten(obj, prefix=''):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _flatten(value, f'{prefix}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _flatten(value, f'{prefix}[{i}]')
    else:
        yield prefix, obj


def assert_same_training_state(a: dict, b: dict) -> None:
    """Weights, optimizer and scheduler states equal to the last bit."""
    assert a['meta']['epoch'] == b['meta']['epoch'] and a['meta']['iter'] == b['meta']['iter']
    for part in ('state_dict', 'optimizer', 'param_schedulers'):
        flat_a, flat_b = dict(_flatten(a[part])), dict(_flatten(b[part]))
        assert flat_a.keys() == flat_b.keys()
        differing = [k for k, v in flat_a.items()
                     if not (torch.equal(v, flat_b[k]) if isinstance(v, torch.Tensor)
                             else v == flat_b[k])]
        assert not differing, f'{part} differs in {len(differing)} entries: {differing[:3]}'


@pytest.fixture(scope='module')
def uninterrupted(tiny_train_config, tmp_path_factory) -> dict:
    """Two epochs straight through (validation after each), with 0 and with 2 persistent
    workers: ``{workers: work dir}``."""
    runs = {}
    for workers in (0, 2):
        work = tmp_path_factory.mktemp(f'uninterrupted_{workers}')
        result = run_tool('train', str(tiny_train_config), '--work-dir', str(work),
                          *_workers(workers))
        assert result.returncode == 0, result.stderr[-3000:]
        runs[workers] = work
    return runs


@pytest.mark.parametrize('workers', [0, 2])
def test_resumed_run_is_bit_identical_to_the_uninterrupted_one(uninterrupted, tiny_train_config,
                                                              tmp_path, workers):
    full = uninterrupted[workers]
    # What a run stopped after epoch 1 leaves: its epoch-1 checkpoint and the pointer to it.
    shutil.copy(full / 'epoch_1.pth', tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    resumed = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                       '--resume', *_workers(workers))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 2' in resumed.stdout + resumed.stderr
    assert_same_training_state(safe_load(full / 'epoch_2.pth'),
                               safe_load(tmp_path / 'epoch_2.pth'))


def test_training_does_not_depend_on_the_number_of_workers(uninterrupted):
    """Each sample's augmentation is seeded by (seed, epoch, index), not by the worker."""
    assert_same_training_state(safe_load(uninterrupted[0] / 'epoch_2.pth'),
                               safe_load(uninterrupted[2] / 'epoch_2.pth'))


# --------------------------------------------------------------------------- seeding units
@pytest.fixture
def train_dataset(tiny_synth):
    from poseforge.datasets.synth_hand import SynthHandDataset
    from poseforge.datasets.transforms.presets import topdown_train_pipeline
    init_default_scope('poseforge')
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    return SynthHandDataset(data_root=str(tiny_synth), ann_file='annotations/train.json',
                            pipeline=topdown_train_pipeline(codec), indices=4)


def test_a_sample_is_seeded_by_seed_epoch_and_index_only(train_dataset):
    train_dataset.set_sample_seed(7, 3)
    first = train_dataset[1]['inputs']
    np.random.seed(123)  # whatever the process's own randomness
    train_dataset[0]
    again = train_dataset[1]['inputs']
    assert torch.equal(first, again)
    train_dataset.set_sample_seed(7, 4)
    assert not torch.equal(first, train_dataset[1]['inputs'])  # a new epoch, a new draw
    state = np.random.get_state()[1].copy()
    train_dataset[2]
    assert np.array_equal(state, np.random.get_state()[1])  # the caller's RNG is untouched


class _Draws(torch.utils.data.Dataset):
    """Each item is a number drawn from the worker's own numpy RNG."""

    epoch = 0

    def __len__(self) -> int:
        return 2

    def __getitem__(self, idx: int) -> float:
        return float(np.random.rand())


def _draws(dataset: _Draws, init_fn) -> list[float]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=1,
                                         worker_init_fn=init_fn)
    return [float(x) for x in loader]


def test_worker_seeds_change_with_the_epoch_unlike_mmengines():
    """mmengine's worker_init_fn seeds worker w with seed + w (+ rank * workers): a
    non-persistent worker repeats the same draws every epoch. seed_worker adds the epoch."""
    from mmengine.dataset.utils import worker_init_fn
    dataset = _Draws()
    mmengine_init = functools.partial(worker_init_fn, num_workers=1, rank=0, seed=0)
    assert _draws(dataset, mmengine_init) == _draws(dataset, mmengine_init)  # the finding
    ours = functools.partial(seed_worker, seed=0, rank=0)
    epoch_0 = _draws(dataset, ours)
    assert _draws(dataset, ours) == epoch_0  # reproducible
    dataset.epoch = 1
    assert _draws(dataset, ours) != epoch_0
