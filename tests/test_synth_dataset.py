"""SynthHandDataset: reads the generator's json into the schema; malformed files fail clearly."""
from __future__ import annotations

import json
import os.path as osp
from pathlib import Path

import numpy as np
import pytest

from poseforge.datasets import DatasetError, SynthHandDataset
from poseforge.registry import DATASETS


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory) -> Path:
    from poseforge.generation.synth_hands import generate_dataset
    out = tmp_path_factory.mktemp('synth_ds')
    generate_dataset(out, num=3, views=2, seed=4, size=64, test_fraction=0.34)
    return out


def _dataset(root: Path, split: str = 'train', **kwargs) -> SynthHandDataset:
    return SynthHandDataset(ann_file=f'annotations/{split}.json', data_root=str(root),
                            data_prefix=dict(img=f'images/{split}/'), **kwargs)


def _broken_copy(root: Path, tmp_path: Path, edit) -> Path:
    data = json.loads((root / 'annotations' / 'train.json').read_text())
    edit(data)
    path = tmp_path / 'broken.json'
    path.write_text(json.dumps(data))
    return path


def test_loader_fills_the_schema(synth_root):
    ds = _dataset(synth_root)
    data = json.loads((synth_root / 'annotations' / 'train.json').read_text())
    assert len(ds) == len(data['annotations']) == 4
    assert ds.metainfo['num_keypoints'] == 21 and ds.metainfo['skeleton'] == 'hand21'
    info = ds.get_data_info(1)
    assert osp.isfile(info['img_path'])
    expected = dict(bbox=(4,), keypoints=(21, 2), keypoints_visible=(21,),
                    keypoints_3d=(21, 3), K=(3, 3), R=(3, 3), t=(3,))
    for key, shape in expected.items():
        assert info[key].shape == shape and info[key].dtype == np.float32, key
    assert isinstance(info['view_id'], int) and isinstance(info['img_id'], int)
    x1, y1, x2, y2 = info['bbox']
    assert x2 > x1 and y2 > y1
    ann = data['annotations'][1]
    assert np.allclose(info['keypoints'], np.reshape(ann['keypoints'], (21, 3))[:, :2])
    assert np.array_equal(info['keypoints_visible'] > 0,
                          np.reshape(ann['keypoints'], (21, 3))[:, 2] > 0)
    assert info['flip_indices'] == list(range(21))


def test_default_prefix_follows_the_split_and_registry_builds_it(synth_root):
    ds = DATASETS.build(dict(type='SynthHandDataset', data_root=str(synth_root),
                             ann_file='annotations/test.json', test_mode=True))
    assert len(ds) == 2
    assert all(osp.isfile(ds.get_data_info(i)['img_path']) for i in range(len(ds)))
    assert f'images{osp.sep}test' in ds.get_data_info(0)['img_path']


@pytest.mark.parametrize('edit, message', [
    (lambda d: d['annotations'][2].__setitem__('keypoints', [1.0] * 60),
     'annotation #2 (id='),
    (lambda d: d['annotations'][0].__setitem__('image_id', 999), 'image_id 999'),
    (lambda d: d['annotations'][1].pop('bbox'), "missing 'bbox'"),
    (lambda d: d['images'][0].__setitem__('K', [[1, 0], [0, 1]]), 'K has 4 values'),
])
def test_malformed_records_name_file_and_record(synth_root, tmp_path, edit, message):
    path = _broken_copy(synth_root, tmp_path, edit)
    with pytest.raises(DatasetError) as err:
        SynthHandDataset(ann_file=str(path), data_prefix=dict(img=str(synth_root)))
    assert str(path) in str(err.value) and message in str(err.value)


def test_wrong_keypoint_count_says_what_is_wrong(synth_root, tmp_path):
    path = _broken_copy(synth_root, tmp_path,
                        lambda d: d['annotations'][2].__setitem__('keypoints', [1.0] * 60))
    with pytest.raises(DatasetError, match=r'keypoints has 60 values, expected 63'):
        SynthHandDataset(ann_file=str(path))


def test_invalid_json_raises_dataset_error(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text('{"images": [')
    with pytest.raises(DatasetError, match='bad.json'):
        SynthHandDataset(ann_file=str(path))


def test_missing_ann_file_names_it(synth_root):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        SynthHandDataset(ann_file='annotations/nope.json', data_root=str(synth_root))
