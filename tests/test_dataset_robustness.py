"""A bad image during training is skipped and counted; during evaluation it is an error."""
from __future__ import annotations

import shutil

import pytest
from mmengine.registry import init_default_scope

from poseforge.datasets.base import ImageReadError
from poseforge.datasets.synth_hand import SynthHandDataset
from poseforge.datasets.transforms.presets import topdown_train_pipeline

CODEC = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0)


def _dataset(root, test_mode: bool) -> SynthHandDataset:
    init_default_scope('poseforge')
    return SynthHandDataset(data_root=str(root), ann_file='annotations/train.json',
                            pipeline=topdown_train_pipeline(CODEC), test_mode=test_mode)


@pytest.fixture
def corrupted(tiny_synth, tmp_path):
    """A copy of the tiny dataset whose first training image is garbage bytes."""
    root = tmp_path / 'synth'
    shutil.copytree(tiny_synth / 'annotations', root / 'annotations')
    shutil.copytree(tiny_synth / 'images', root / 'images')
    first = _dataset(root, test_mode=True).get_data_info(0)['img_path']
    with open(first, 'wb') as f:
        f.write(b'not a jpeg at all')
    return root, first


def test_training_skips_and_counts_a_corrupt_image(corrupted):
    root, bad = corrupted
    dataset = _dataset(root, test_mode=False)
    sample = dataset[0]  # mmengine draws another index for the skipped one
    assert sample['inputs'].shape == (3, 64, 64)
    assert sample['data_samples']['meta']['img_path'] != bad
    assert dataset.skipped == 1


def test_a_skipped_sample_is_replaced_by_another_one():
    """The replacement never draws the skipped sample itself: under a per-sample seed it
    would draw it again on every refetch."""
    import numpy as np

    from poseforge.datasets.base import other_index
    np.random.seed(0)
    drawn = [other_index(3, 5) for _ in range(400)]
    assert 3 not in drawn and set(drawn) == {0, 1, 2, 4}
    assert other_index(0, 1) == 0


def test_evaluation_names_the_corrupt_image(corrupted):
    root, bad = corrupted
    with pytest.raises(ImageReadError, match=bad.split('/')[-1]):
        _dataset(root, test_mode=True)[0]
