"""MpiiDataset: the json list by mmpose's rules (derived by hand here), the original release
.mat (written in its struct layout from the fixture's real values) agreeing with it, head sizes,
clear errors, and the CPM MPII config."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from scipy.io import savemat

import poseforge.datasets.mpii  # noqa: F401  (registers MpiiDataset)
import poseforge.evaluation.metrics.mpii_pckh  # noqa: F401  (registers MpiiPCKh)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.mpii import MpiiDataset
from poseforge.registry import DATASETS
from poseforge.skeletons import MPII16
from poseforge.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
EMPTY = np.zeros((0, 0))


@pytest.fixture(scope='module')
def mpii_dir(fixtures_dir) -> Path:
    return fixtures_dir / 'mpii'


@pytest.fixture(scope='module')
def records(mpii_dir) -> list[dict]:
    return json.loads((mpii_dir / 'test_mpii.json').read_text())


def _json_dataset(mpii_dir: Path, **kwargs) -> MpiiDataset:
    return MpiiDataset(ann_file='test_mpii.json', data_root=str(mpii_dir), **kwargs)


def _entries(ds) -> list[dict]:
    return [ds.get_data_info(i) for i in range(len(ds))]


def _head_box(record: dict) -> list[float]:
    """A head box (x1, y1, x2, y2) around the record's real upper-neck and head-top joints."""
    (nx, ny), (hx, hy) = record['joints'][8], record['joints'][9]
    pad = 0.25 * math.hypot(hx - nx, hy - ny)
    return [min(nx, hx) - pad, min(ny, hy) - pad, max(nx, hx) + pad, max(ny, hy) + pad]


# --------------------------------------------------------------------------- json list
def test_json_reader_applies_mmpose_rules(mpii_dir, records):
    entries = _entries(_json_dataset(mpii_dir))
    assert len(entries) == len(records) == 5
    for index, (entry, rec) in enumerate(zip(entries, records)):
        cx, cy = rec['center']
        s = rec['scale']
        cy += 15 * s  # mmpose: center[1] += 15 / 200 * (scale * 200)
        cx, cy = cx - 1, cy - 1  # MATLAB 1-based -> 0-based
        half = s * 200 / 2
        np.testing.assert_allclose(entry['bbox'], [cx - half, cy - half, cx + half, cy + half],
                                   rtol=0, atol=1e-3)
        vis = np.array(rec['joints_vis'], dtype=np.float32)
        np.testing.assert_array_equal(entry['keypoints_visible'], vis)
        labelled = vis > 0
        np.testing.assert_allclose(entry['keypoints'][labelled],
                                   np.array(rec['joints'])[labelled] - 1, atol=1e-4)
        assert not entry['keypoints'][~labelled].any()  # HRNet's (-1, -1) -> (0, 0)
        assert entry['img_id'] == int(rec['image'].split('.')[0]) and entry['id'] == index
        assert entry['img_path'] == str(mpii_dir / rec['image'])
        assert entry['area'] == pytest.approx(0.53 * (2 * half) ** 2, rel=1e-5)
        assert 'head_size' not in entry
    assert entries[2]['keypoints_visible'][[0, 5]].tolist() == [0, 0]  # ankles unlabelled


def test_center_placeholder_is_not_shifted(mpii_dir, records, tmp_path):
    data = [dict(records[0], center=[-1, -1])]
    path = tmp_path / 'one.json'
    path.write_text(json.dumps(data))
    entry = MpiiDataset(ann_file=str(path)).get_data_info(0)
    half = records[0]['scale'] * 100
    # no +15*scale for the -1 placeholder, only the -1 shift: centre (-2, -2)
    np.testing.assert_allclose(entry['bbox'], [-2 - half, -2 - half, -2 + half, -2 + half],
                               atol=1e-3)


def test_headbox_file_gives_head_sizes(mpii_dir, records, tmp_path):
    boxes = np.array([_head_box(r) for r in records])  # (N, 4)
    # gt_valid.mat layout: headboxes_src (2 corners, 2 coords, N)
    src = np.stack([boxes[:, :2].T, boxes[:, 2:].T])
    savemat(tmp_path / 'gt_valid.mat', {'headboxes_src': src})
    ds = _json_dataset(mpii_dir, headbox_file=str(tmp_path / 'gt_valid.mat'), test_mode=True)
    for entry, (x1, y1, x2, y2) in zip(_entries(ds), boxes):
        assert entry['head_size'] == pytest.approx(0.6 * math.hypot(x2 - x1, y2 - y1))

    savemat(tmp_path / 'short.mat', {'headboxes_src': src[:, :, :3]})
    with pytest.raises(DatasetError, match=r'short\.mat.*3 head boxes.*5 records'):
        _json_dataset(mpii_dir, headbox_file=str(tmp_path / 'short.mat'))
    with pytest.raises(FileNotFoundError, match='absent.mat'):
        _json_dataset(mpii_dir, headbox_file=str(tmp_path / 'absent.mat'))


# --------------------------------------------------------------------------- original .mat
def _struct_array(items: list[dict], fields: list[str]) -> np.ndarray:
    """A 1 x n MATLAB struct array; fields an item lacks are empty ([]), as in the release."""
    array = np.zeros((1, len(items)), dtype=[(f, object) for f in fields])
    for i, item in enumerate(items):
        for f in fields:
            array[0, i][f] = item.get(f, EMPTY)
    return array


RECT_FIELDS = ['x1', 'y1', 'x2', 'y2', 'annopoints', 'scale', 'objpos']


def _rect(record: dict | None, head_box: list[float] | None = None, centre=None,
          scale=None) -> dict:
    """One annorect from a json record: MATLAB coords, labelled joints only, by joint id."""
    rect: dict = {}
    if record is not None:
        points = [dict(x=float(x), y=float(y), id=j, is_visible='1' if j % 2 else 1)
                  for j, ((x, y), v) in enumerate(zip(record['joints'], record['joints_vis']))
                  if v]
        rect['annopoints'] = {'point': _struct_array(points, ['x', 'y', 'id', 'is_visible'])}
        centre, scale = record['center'], record['scale']
    if head_box is not None:
        rect.update(zip(('x1', 'y1', 'x2', 'y2'), head_box))
    if centre is not None:
        rect['objpos'] = {'x': float(centre[0]), 'y': float(centre[1])}
        rect['scale'] = float(scale)
    return rect


def _write_release(path: Path, records: list[dict]) -> None:
    """mpii_human_pose_v1_u12_1.mat: RELEASE.{annolist, img_train, single_person}.

    Images 1-5: one fixture person each (image 1 also has a second, non-single person);
    image 6: a test image with only objpos/scale; image 7: a training image without people;
    image 8: a training image whose single person has no position.
    """
    images, train, single = [], [], []
    for i, rec in enumerate(records):
        rects = [_rect(rec, _head_box(rec))]
        if i == 0:
            rects.append(_rect(records[1], _head_box(records[1])))  # not in single_person
        images.append(dict(image={'name': rec['image']},
                           annorect=_struct_array(rects, RECT_FIELDS)))
        train.append(1)
        single.append(np.array([[1.0]]))
    images.append(dict(image={'name': '099999999.jpg'},
                       annorect=_struct_array([_rect(None, centre=[400, 300], scale=2.5)],
                                              RECT_FIELDS)))
    train.append(0)
    single.append(np.array([[1.0]]))
    images.append(dict(image={'name': '099999998.jpg'}, annorect=EMPTY))
    train.append(1)
    single.append(EMPTY)
    no_position = _rect(records[2])
    del no_position['objpos'], no_position['scale']
    images.append(dict(image={'name': '099999997.jpg'},
                       annorect=_struct_array([no_position], RECT_FIELDS)))
    train.append(1)
    single.append(np.array([[1.0]]))
    cells = np.empty((len(single), 1), dtype=object)
    for i, value in enumerate(single):
        cells[i, 0] = value
    savemat(path, {'RELEASE': {
        'annolist': _struct_array(images, ['image', 'annorect']),
        'img_train': np.array([train], dtype=np.float64), 'single_person': cells,
        'version': '12'}})


@pytest.fixture(scope='module')
def release_dir(tmp_path_factory, records) -> Path:
    folder = tmp_path_factory.mktemp('mpii_release')
    _write_release(folder / 'mpii_human_pose_v1_u12_1.mat', records)
    return folder


def test_release_mat_agrees_with_json(mpii_dir, records, release_dir):
    from_json = _entries(_json_dataset(mpii_dir))
    ds = MpiiDataset(ann_file=str(release_dir / 'mpii_human_pose_v1_u12_1.mat'),
                     data_prefix=dict(img=str(mpii_dir)))
    from_mat = _entries(ds)
    # 5 single people kept; the non-single rect, the empty image and the rect without a
    # position are skipped, the test image belongs to the other split
    assert len(from_mat) == 5
    for a, b, rec in zip(from_json, from_mat, records):
        assert a['img_path'] == b['img_path'] and a['img_id'] == b['img_id']
        np.testing.assert_array_equal(a['keypoints_visible'], b['keypoints_visible'])
        np.testing.assert_allclose(a['keypoints'], b['keypoints'], atol=1e-4)
        np.testing.assert_array_equal(a['bbox'], b['bbox'])
        x1, y1, x2, y2 = _head_box(rec)
        assert b['head_size'] == pytest.approx(0.6 * math.hypot(x2 - x1, y2 - y1))

    with_multi = MpiiDataset(ann_file=str(release_dir / 'mpii_human_pose_v1_u12_1.mat'),
                             single_person_only=False)
    assert len(with_multi) == 6  # the second person of image 1 as well


def test_release_mat_test_split(release_dir):
    ds = MpiiDataset(data_root=str(release_dir), test_mode=True)  # found in the folder
    assert len(ds) == 1
    entry = ds.get_data_info(0)
    cx, cy = 400 - 1, 300 + 15 * 2.5 - 1
    np.testing.assert_allclose(entry['bbox'], [cx - 250, cy - 250, cx + 250, cy + 250],
                               atol=1e-3)
    assert not entry['keypoints_visible'].any() and 'head_size' not in entry
    assert entry['img_id'] == 99999999


# --------------------------------------------------------------------------- errors
def test_missing_file_is_named(mpii_dir):
    with pytest.raises(FileNotFoundError, match='mpii_val.json'):
        MpiiDataset(ann_file='mpii_val.json', data_root=str(mpii_dir))


def test_folder_without_the_release_names_the_expected_layouts(mpii_dir):
    with pytest.raises(DatasetError, match=r'folder without the original annotations; '
                                           r'expected.*json list.*mpii_human_pose_v1_u12_1\.mat'):
        MpiiDataset(data_root=str(mpii_dir))


def test_wrong_files_name_the_expected_layout(fixtures_dir, tmp_path):
    with pytest.raises(DatasetError, match=r'COCO-style object; expected.*json list'):
        MpiiDataset(ann_file=str(fixtures_dir / 'mpii' / 'test_mpii_trb.json'))
    savemat(tmp_path / 'other.mat', {'annolist': np.zeros(3)})
    with pytest.raises(DatasetError, match=r"other\.mat.*no struct 'RELEASE'"):
        MpiiDataset(ann_file=str(tmp_path / 'other.mat'))


def test_malformed_record_names_file_and_record(records, tmp_path):
    bad = [records[0], dict(records[1], joints=records[1]['joints'][:15])]
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(bad))
    with pytest.raises(DatasetError, match=r"bad\.json.*record #1 \(image '052475643\.jpg'\): "
                                           r'joints has 30 values'):
        MpiiDataset(ann_file=str(path))
    path.write_text(json.dumps([{k: v for k, v in records[0].items() if k != 'scale'}]))
    with pytest.raises(DatasetError, match=r"record #0.*missing 'scale'"):
        MpiiDataset(ann_file=str(path))


# --------------------------------------------------------------------------- config
def test_cpm_mpii_config_builds_and_packs(mpii_dir, records, tmp_path):
    boxes = np.array([_head_box(r) for r in records])
    savemat(tmp_path / 'gt.mat', {'headboxes_src': np.stack([boxes[:, :2].T, boxes[:, 2:].T])})
    init_default_scope('poseforge')
    root = str(mpii_dir)
    cfg = load_config(str(ROOT / 'configs' / 'cpm' / 'cpm_vgg19_mpii-256.py'), {
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.dataset.ann_file': 'test_mpii.json',
        'train_dataloader.dataset.data_prefix.img': '',
        'val_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.ann_file': 'test_mpii.json',
        'val_dataloader.dataset.headbox_file': str(tmp_path / 'gt.mat'),
        'val_dataloader.dataset.data_prefix.img': '',
    })
    assert cfg.model.test_cfg.flip_test is True and cfg.model.backbone.num_keypoints == 16
    assert cfg.val_evaluator.type == 'MpiiPCKh'
    sample = DATASETS.build(cfg.train_dataloader.dataset)[2]
    assert tuple(sample['inputs'].shape) == (3, 256, 256)
    assert tuple(sample['data_samples']['heatmaps'].shape) == (16, 32, 32)
    assert sample['data_samples']['meta']['flip_indices'] == MPII16.flip_indices
    packed = DATASETS.build(cfg.val_dataloader.dataset)[0]
    assert tuple(packed['inputs'].shape) == (3, 256, 256)
    x1, y1, x2, y2 = boxes[0]
    assert packed['data_samples']['meta']['head_size'] == pytest.approx(
        0.6 * math.hypot(x2 - x1, y2 - y1))
