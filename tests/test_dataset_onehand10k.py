"""OneHand10KDataset: mmpose's json and the original label_joint.txt give the same schema; the
CSV box rule, bad input and the CPM config on the real fixture."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import DefaultScope

import poseforge.datasets.multi_format as multi_format_module
import poseforge.datasets.transforms  # noqa: F401  (registers the pipeline)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.multi_format import keypoint_bbox
from poseforge.datasets.onehand10k import OneHand10KDataset
from poseforge.registry import DATASETS
from poseforge.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'cpm' / 'cpm_vgg19_onehand10k-368.py'


@pytest.fixture(scope='module')
def fixture_json(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / 'onehand10k' / 'test_onehand10k.json').read_text())


def make(**kwargs) -> OneHand10KDataset:
    """The dataset without mmengine's serialisation (a gc.collect() of ~0.5 s per build)."""
    return OneHand10KDataset(serialize_data=False, **kwargs)


def json_dataset(fixtures_dir, **kwargs) -> OneHand10KDataset:
    folder = fixtures_dir / 'onehand10k'
    return make(ann_file=str(folder / 'test_onehand10k.json'), data_prefix=dict(img=str(folder)),
                **kwargs)


def by_id(dataset) -> dict[int, dict]:
    return {info['id']: info for info in (dataset.get_data_info(i) for i in range(len(dataset)))}


def csv_line(image: dict, ann: dict) -> str:
    """A label_joint.txt line for one fixture annotation (unlabelled -> -1,-1)."""
    points = np.reshape(ann['keypoints'], (21, 3))
    coords = [f'{x:g},{y:g}' if v > 0 else '-1,-1' for x, y, v in points]
    return ','.join([image['file_name'], str(image['width']), str(image['height']), '1'] + coords)


def write_csv(fixture_json: dict, path: Path, extra_lines=()) -> Path:
    images = {im['id']: im for im in fixture_json['images']}
    lines = [csv_line(images[a['image_id']], a) for a in fixture_json['annotations']]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines + list(extra_lines)) + '\n')
    return path


def test_json_reader_keeps_the_canonical_order_and_mmpose_boxes(fixtures_dir):
    infos = by_id(json_dataset(fixtures_dir))
    assert sorted(infos) == [9, 33, 784, 1402]
    hand = infos[1402]  # fully labelled, open hand
    # values read by hand from the json (wrist, then thumb1..thumb4 = root -> tip)
    assert np.allclose(hand['keypoints'][0], (92, 264))
    assert np.allclose(hand['keypoints'][1], (150, 213))
    assert np.allclose(hand['keypoints'][4], (174, 172))
    assert np.allclose(hand['keypoints'][20], (37, 119))  # pinky4
    # in hand21 order each finger runs root -> tip: the root is the joint nearer the wrist
    wrist = hand['keypoints'][0]
    for finger in range(5):
        root, tip = hand['keypoints'][1 + 4 * finger], hand['keypoints'][4 + 4 * finger]
        assert np.linalg.norm(root - wrist) < np.linalg.norm(tip - wrist)
    assert np.allclose(hand['bbox'], (32, 68, 182, 278))  # [32, 68, 150, 210] as xyxy
    assert hand['img_path'].endswith('1402.jpg')
    # the unlabelled (0, 0, 0) wrist of image 9
    assert infos[9]['keypoints_visible'][0] == 0 and infos[9]['keypoints_visible'][1:].all()


def test_csv_reader_matches_the_json_reader(fixtures_dir, fixture_json, tmp_path):
    path = write_csv(fixture_json, tmp_path / 'Test' / 'label_joint.txt')
    from_csv = by_id(make(ann_file=str(path),
                          data_prefix=dict(img=str(fixtures_dir / 'onehand10k'))))
    from_json = by_id(json_dataset(fixtures_dir))
    assert sorted(from_csv) == sorted(from_json)
    for key, csv_info in from_csv.items():
        json_info = from_json[key]
        assert csv_info['img_path'] == json_info['img_path']
        assert csv_info['img_id'] == json_info['img_id'] == key
        np.testing.assert_array_equal(csv_info['keypoints_visible'],
                                      json_info['keypoints_visible'])
        np.testing.assert_allclose(csv_info['keypoints'], json_info['keypoints'])


def test_csv_box_is_1_2x_the_tight_box_of_labelled_points(fixtures_dir, fixture_json, tmp_path):
    path = write_csv(fixture_json, tmp_path / 'Test' / 'label_joint.txt')
    infos = by_id(make(ann_file=str(path), data_prefix=dict(img=str(fixtures_dir / 'onehand10k'))))
    # 1402: x 37..174, y 70..264 -> centre (105.5, 167), size 137 x 194, x1.2 = 164.4 x 232.8
    np.testing.assert_allclose(infos[1402]['bbox'], (23.3, 50.6, 187.7, 283.4), atol=1e-4)
    # 9 (wrist missing): x 71..154, y 98..251 -> centre (112.5, 174.5), 83 x 153 -> 99.6 x 183.6
    np.testing.assert_allclose(infos[9]['bbox'], (62.7, 82.7, 162.3, 266.3), atol=1e-4)
    box = keypoint_bbox(np.array([[[0, 0], [10, 4], [99, 99]]]), np.array([[1, 1, 0]]), 2.0)
    np.testing.assert_allclose(box, [[-5, -2, 15, 6]])
    assert np.isnan(keypoint_bbox(np.zeros((1, 3, 2)), np.zeros((1, 3)))).all()


def test_csv_default_images_are_the_source_folder_and_a_folder_finds_the_file(
        fixture_json, tmp_path):
    write_csv(fixture_json, tmp_path / 'Train' / 'label_joint.txt')
    with pytest.raises(DatasetError) as err:
        make(ann_file='Train/label_joint.txt', data_root=str(tmp_path))
    assert 'source' in str(err.value) and 'label_joint.txt beside' in str(err.value)
    (tmp_path / 'Train' / 'source').mkdir()
    dataset = make(ann_file='Train', data_root=str(tmp_path))
    assert len(dataset) == 4
    assert dataset.get_data_info(0)['img_path'] == str(tmp_path / 'Train' / 'source' / '9.jpg')
    (tmp_path / 'Empty').mkdir()
    with pytest.raises(DatasetError, match="'.*Empty' has no label_joint.txt"):
        make(ann_file='Empty', data_root=str(tmp_path))


def test_lines_without_labelled_points_are_dropped_and_counted(fixture_json, tmp_path,
                                                               monkeypatch):
    messages = []
    monkeypatch.setattr(multi_format_module, 'print_log', lambda msg, **kw: messages.append(msg))
    empty = ','.join(['5000.jpg', '320', '240', '1'] + ['-1'] * 42)
    path = write_csv(fixture_json, tmp_path / 'Test' / 'label_joint.txt', [empty])
    dataset = make(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))
    assert len(dataset) == 4 and 5000 not in by_id(dataset)
    assert any('dropped 1 of 5' in m and 'no labelled keypoint' in m for m in messages)


@pytest.mark.parametrize('bad_line, message', [
    ('10.jpg,320,240,1,5,6', 'line 3: expected 46 comma-separated fields'),
    (','.join(['10.jpg', '320', 'wide', '1'] + ['1'] * 42), 'line 3: non-numeric'),
    (','.join(['', '320', '240', '1'] + ['1'] * 42), 'line 3: empty image name'),
    (','.join(['9.jpg', '320', '240', '1'] + ['1'] * 42), 'line 3: image id 9'),
])
def test_malformed_csv_names_file_and_line(fixture_json, tmp_path, bad_line, message):
    images = {im['id']: im for im in fixture_json['images']}
    good = [csv_line(images[a['image_id']], a) for a in fixture_json['annotations'][:2]]
    path = tmp_path / 'label_joint.txt'
    path.write_text('\n'.join(good + [bad_line]) + '\n')
    with pytest.raises(DatasetError) as err:
        make(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_file_and_unknown_extension_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'OneHand10KDataset.*nope\.txt'):
        make(ann_file='nope.txt', data_root=str(tmp_path))
    odd = tmp_path / 'labels.dat'
    odd.write_text('')
    with pytest.raises(DatasetError, match=r"labels\.dat.*format= one of 'json', 'csv'"):
        make(ann_file=str(odd))
    with pytest.raises(ValueError, match='format must be one of'):
        make(ann_file=str(odd), format='xml')
    with pytest.raises(DatasetError, match=r"no instances in '.*labels\.dat'"):
        make(ann_file=str(odd), format='csv', data_prefix=dict(img=str(tmp_path)))
    # an explicit format overrides the extension
    odd.write_text(','.join(['1.jpg', '320', '240', '1'] + ['7'] * 42) + '\n')
    assert len(make(ann_file=str(odd), format='csv', data_prefix=dict(img=str(tmp_path)))) == 1


def test_cpm_config_builds_the_dataset_and_packs_a_sample(fixtures_dir):
    import poseforge.datasets  # noqa: F401  (collate function)
    folder = str(fixtures_dir / 'onehand10k')
    options = {}
    for loader in ('train_dataloader', 'val_dataloader'):
        options[f'{loader}.dataset.data_root'] = folder
        options[f'{loader}.dataset.ann_file'] = 'test_onehand10k.json'
    cfg = load_config(str(CONFIG), options)
    assert cfg.model.head.decoder.heatmap_size == (46, 46)
    with DefaultScope.overwrite_default_scope('poseforge'):
        val = DATASETS.build(cfg.val_dataloader.dataset)
        train = DATASETS.build(cfg.train_dataloader.dataset)
        packed = val[0]
        train_packed = train[0]
    assert tuple(packed['inputs'].shape) == (3, 368, 368)
    meta = packed['data_samples']['meta']
    assert meta['id'] == 9
    # the crop is a square of 2.2 / 1.2 x the box's longer side (194 px) over 368 px
    np.testing.assert_allclose(meta['input_to_image'][0, 0], 194 * 2.2 / 1.2 / 368, rtol=1e-5)
    assert tuple(train_packed['data_samples']['heatmaps'].shape) == (21, 46, 46)
