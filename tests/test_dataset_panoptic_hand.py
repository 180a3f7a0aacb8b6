"""PanopticHandDataset: mmpose's json (head_size, hand side), the original manual_* folder and
hand143 json (written here from the fixture's values) read alike; bad input; the CPM config and
PCKh@0.7 on the head size that the dataset puts into every packed sample."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import DefaultScope

import poseforge.datasets.multi_format as multi_format_module
import poseforge.datasets.panoptic_hand as panoptic_module
import poseforge.datasets.transforms  # noqa: F401  (registers the pipeline)
import poseforge.evaluation.metrics  # noqa: F401  (registers the metrics)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.panoptic_hand import PanopticHandDataset, hand_side_from_name
from poseforge.registry import DATASETS, METRICS
from poseforge.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'cpm' / 'cpm_vgg19_panoptic-hand-368.py'
NAMES = ('005880453_01_l', '005880453_01_r', 'ex2_2.flv_000040_l', 'ex2_2.flv_000040_r')


def make(**kwargs) -> PanopticHandDataset:
    """The dataset without mmengine's serialisation (a gc.collect() of ~0.5 s per build)."""
    return PanopticHandDataset(serialize_data=False, **kwargs)


@pytest.fixture(scope='module')
def fixture_json(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / 'panoptic' / 'test_panoptic.json').read_text())


def json_infos(fixtures_dir) -> dict[str, dict]:
    """mmpose-json entries by image name (stem)."""
    dataset = make(ann_file=str(fixtures_dir / 'panoptic' / 'test_panoptic.json'),
                   data_prefix=dict(img=str(fixtures_dir / 'panoptic')))
    infos = (dataset.get_data_info(i) for i in range(len(dataset)))
    return {Path(info['img_path']).stem: info for info in infos}


def annotations_by_name(fixture_json: dict) -> dict[str, dict]:
    images = {im['id']: im for im in fixture_json['images']}
    return {Path(images[a['image_id']]['file_name']).stem: a
            for a in fixture_json['annotations']}


def write_manual_folder(fixture_json: dict, folder: Path, head_size_of=lambda name: None) -> Path:
    """``<name>.json`` per fixture hand in the release's format (no images: they stay in the
    shared fixtures)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, ann in annotations_by_name(fixture_json).items():
        record = dict(hand_pts=np.reshape(ann['keypoints'], (21, 3)).tolist(),
                      is_left=int(name.endswith('_l')))
        if head_size_of(name) is not None:
            record['head_size'] = head_size_of(name)
        (folder / f'{name}.json').write_text(json.dumps(record))
    return folder


def test_json_reader_has_head_size_side_and_canonical_order(fixtures_dir):
    infos = json_infos(fixtures_dir)
    assert sorted(infos) == sorted(NAMES)
    hand = infos['005880453_01_l']
    assert hand['head_size'] == 140.0 and hand['hand_side'] == 'left'
    assert infos['005880453_01_r']['hand_side'] == 'right'
    assert infos['ex2_2.flv_000040_r']['head_size'] == pytest.approx(72.5531)
    # values read by hand from the json: wrist, thumb1 (root), thumb4 (tip)
    np.testing.assert_allclose(hand['keypoints'][0], (721.0, 224.0))
    np.testing.assert_allclose(hand['keypoints'][1], (720.32470703125, 216.51248168945315))
    np.testing.assert_allclose(hand['keypoints'][4], (752.6591186523438, 191.17718505859378))
    wrist = hand['keypoints'][0]  # an open hand: every finger's root is nearer the wrist
    for finger in range(5):
        root, tip = hand['keypoints'][1 + 4 * finger], hand['keypoints'][4 + 4 * finger]
        assert np.linalg.norm(root - wrist) < np.linalg.norm(tip - wrist)
    # mmpose's [x, y, w, h] = [720.3247, 188.0991, 55.4454, 36.9009] as xyxy
    np.testing.assert_allclose(hand['bbox'], (720.3247, 188.0991, 775.7701, 225.0), atol=1e-3)


def test_hand_side_from_file_names():
    assert hand_side_from_name('hand_labels/manual_test/000648952_02_l.jpg') == 'left'
    assert hand_side_from_name('ex2_2.flv_000040_r.jpg') == 'right'
    assert hand_side_from_name('hand143_panopticdb/imgs/00000001.jpg') is None
    assert hand_side_from_name('a_l.b/c.jpg') is None


def test_manual_folder_matches_the_json_reader(fixtures_dir, fixture_json, tmp_path,
                                               monkeypatch):
    messages = []
    monkeypatch.setattr(panoptic_module, 'print_log', lambda msg, **kw: messages.append(msg))
    heads = {NAMES[0]: 140.0, NAMES[1]: 140.0, NAMES[2]: 72.5531}  # the last file has none
    folder = write_manual_folder(fixture_json, tmp_path / 'manual_test', heads.get)
    dataset = make(ann_file=str(folder), data_prefix=dict(img=str(fixtures_dir / 'panoptic')))
    expected = json_infos(fixtures_dir)
    assert len(dataset) == 4
    for index, name in enumerate(NAMES):  # ids follow the file names' order
        info = dataset.get_data_info(index)
        assert info['id'] == info['img_id'] == index
        assert info['img_path'] == expected[name]['img_path']
        assert info['hand_side'] == expected[name]['hand_side']
        np.testing.assert_allclose(info['keypoints'], expected[name]['keypoints'])
        np.testing.assert_array_equal(info['keypoints_visible'],
                                      expected[name]['keypoints_visible'])
        # the documented box rule reproduces mmpose's converted boxes
        np.testing.assert_allclose(info['bbox'], expected[name]['bbox'], atol=1e-3)
        if name in heads:
            assert info['head_size'] == pytest.approx(expected[name]['head_size'])
        else:
            assert 'head_size' not in info
    assert any('1 of 4 hands have no head_size' in m for m in messages)


def test_manual_default_images_are_beside_the_annotations(fixture_json, tmp_path):
    folder = write_manual_folder(fixture_json, tmp_path / 'hand_labels' / 'manual_train')
    dataset = make(ann_file='hand_labels/manual_train', data_root=str(tmp_path))
    assert dataset.get_data_info(0)['img_path'] == str(folder / f'{NAMES[0]}.jpg')


def test_hand143_json_matches_the_json_reader(fixtures_dir, fixture_json, tmp_path):
    images = {im['id']: im for im in fixture_json['images']}
    root = [dict(img_paths=images[a['image_id']]['file_name'],
                 img_width=images[a['image_id']]['width'],
                 img_height=images[a['image_id']]['height'],
                 joint_self=np.reshape(a['keypoints'], (21, 3)).tolist(), objpos=a['center'])
            for a in fixture_json['annotations']]
    path = tmp_path / 'hands_v143_14817.json'
    path.write_text(json.dumps(dict(root=root)))
    dataset = make(ann_file=str(path), data_prefix=dict(img=str(fixtures_dir / 'panoptic')))
    expected = json_infos(fixtures_dir)
    assert len(dataset) == 4
    for index in range(4):
        info = dataset.get_data_info(index)
        name = Path(info['img_path']).stem
        assert info['id'] == index
        np.testing.assert_allclose(info['keypoints'], expected[name]['keypoints'])
        np.testing.assert_allclose(info['bbox'], expected[name]['bbox'], atol=1e-3)
        assert 'head_size' not in info and 'hand_side' not in info


def test_hands_without_labelled_points_are_dropped_and_counted(fixture_json, tmp_path,
                                                               monkeypatch):
    messages = []
    monkeypatch.setattr(multi_format_module, 'print_log', lambda msg, **kw: messages.append(msg))
    folder = write_manual_folder(fixture_json, tmp_path / 'manual_test')
    (folder / 'zzz_l.json').write_text(json.dumps(dict(hand_pts=[[0, 0, 0]] * 21, is_left=1)))
    dataset = make(ann_file=str(folder))
    assert len(dataset) == 4
    assert any('dropped 1 of 5' in m and 'no labelled keypoint' in m for m in messages)


@pytest.mark.parametrize('record, message', [
    (dict(hand_pts=[[1, 2, 1]] * 20, is_left=0), 'hand_pts has 60 values, expected 63'),
    (dict(hand_pts=[[1, 2, 1]] * 21), "missing 'is_left'"),
    (dict(hand_pts=[[1, 2, 1]] * 21, is_left='yes'), 'is_left must be 0 or 1'),
    (dict(hand_pts=[[1, 2, 1]] * 21, is_left=1, head_size=-3), 'head_size must be positive'),
])
def test_malformed_manual_file_is_named(tmp_path, record, message):
    folder = tmp_path / 'manual_test'
    folder.mkdir()
    (folder / 'a_l.json').write_text(json.dumps(dict(hand_pts=[[1, 2, 1]] * 21, is_left=1)))
    bad = folder / 'b_r.json'
    bad.write_text(json.dumps(record))
    with pytest.raises(DatasetError) as err:
        make(ann_file=str(folder))
    assert str(bad) in str(err.value) and message in str(err.value)


def test_layout_errors_say_which_layout_is_expected(tmp_path):
    empty = tmp_path / 'manual_test'
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"has no <name>\.json.*hand_labels/manual_"):
        make(ann_file=str(empty))
    odd = tmp_path / 'other.json'
    odd.write_text(json.dumps(dict(people=[])))
    with pytest.raises(DatasetError, match=r"neither 'images' and 'annotations'.*expected"):
        make(ann_file=str(odd))
    hand143 = tmp_path / 'hands_v143_14817.json'
    hand143.write_text(json.dumps(dict(root=[dict(img_paths='imgs/0.jpg',
                                                  joint_self=[[1, 1, 1]] * 21),
                                             dict(img_paths='imgs/1.jpg')])))
    with pytest.raises(DatasetError, match=r"root\[1\]: missing 'joint_self'"):
        make(ann_file=str(hand143))
    with pytest.raises(DatasetError, match=r"image folder '.*nowhere' not found.*hand143_"):
        make(ann_file=str(hand143), data_prefix=dict(img=str(tmp_path / 'nowhere')))
    with pytest.raises(FileNotFoundError, match=r'PanopticHandDataset.*missing\.json'):
        make(ann_file=str(tmp_path / 'missing.json'))


def test_cpm_config_packs_head_size_and_pckh_uses_it(fixtures_dir):
    import poseforge.datasets  # noqa: F401  (collate function)
    folder = str(fixtures_dir / 'panoptic')
    options = {f'{loader}.dataset.{key}': value
               for loader in ('train_dataloader', 'val_dataloader')
               for key, value in (('data_root', folder), ('ann_file', 'test_panoptic.json'))}
    cfg = load_config(str(CONFIG), options)
    with DefaultScope.overwrite_default_scope('poseforge'):
        val = DATASETS.build(cfg.val_dataloader.dataset)
        train_packed = DATASETS.build(cfg.train_dataloader.dataset)[0]
        metas = [val[i]['data_samples']['meta'] for i in range(len(val))]
    assert tuple(train_packed['data_samples']['heatmaps'].shape) == (21, 46, 46)
    assert [m['head_size'] for m in metas] == pytest.approx([140.0, 140.0, 72.5531, 72.5531])
    # the tight box's longer side (55.4454 px) x 2.2 over the 368 px crop
    np.testing.assert_allclose(metas[0]['input_to_image'][0, 0], 55.4454 * 2.2 / 368,
                               rtol=1e-4)
    # PCKh@0.7 from the config: an error of 0.5 head sizes is correct, 0.8 is not
    pckh_cfg = next(m for m in cfg.val_evaluator if m.get('norm_item') == 'head')
    for shift, expected in ((0.5, 1.0), (0.8, 0.0)):
        metric = METRICS.build(pckh_cfg)
        preds = [dict(meta, pred_keypoints=meta['keypoints'] + [shift * meta['head_size'], 0],
                      pred_scores=np.ones(21)) for meta in metas]
        metric.process(None, preds)
        assert metric.compute_metrics(metric.results) == {'PCKh@0.7': pytest.approx(expected)}
