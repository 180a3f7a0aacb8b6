"""CocoDataset on the real COCO fixture: mmpose 1.3.2's box clipping, filtering and detection
mode, derived here from the json by hand; the CPM COCO config builds and packs a sample."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import poseforge.datasets.coco  # noqa: F401  (registers CocoDataset)
import poseforge.evaluation.metrics.coco_metric  # noqa: F401  (registers CocoMetric)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.coco import CocoDataset
from poseforge.registry import DATASETS
from poseforge.skeletons import COCO17
from poseforge.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def coco_dir(fixtures_dir) -> Path:
    return fixtures_dir / 'coco'


@pytest.fixture(scope='module')
def coco_json(coco_dir) -> dict:
    return json.loads((coco_dir / 'test_coco.json').read_text())


def _gt(coco_dir: Path, **kwargs) -> CocoDataset:
    return CocoDataset(ann_file='test_coco.json', data_root=str(coco_dir), **kwargs)


def _write(tmp_path: Path, data, name: str = 'ann.json') -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _mmpose_box(bbox_xywh, width, height) -> list[float]:
    """mmpose parse_data_info: x1,y1 and x2=x+w,y2=y+h each clipped to [0, W-1] / [0, H-1]."""
    x, y, w, h = bbox_xywh
    return [min(max(x, 0), width - 1), min(max(y, 0), height - 1),
            min(max(x + w, 0), width - 1), min(max(y + h, 0), height - 1)]


@pytest.mark.parametrize('test_mode', [False, True])
def test_instances_match_mmpose_rules(coco_dir, coco_json, test_mode):
    ds = _gt(coco_dir, test_mode=test_mode)
    images = {im['id']: im for im in coco_json['images']}
    # mmpose's _is_valid_instance drops crowd and num_keypoints == 0 in both modes: 14 -> 12
    kept = [a for a in coco_json['annotations'] if a['num_keypoints'] > 0 and not a['iscrowd']]
    assert len(coco_json['annotations']) == 14 and len(kept) == 12
    assert len(ds) == 12
    entries = {ds.get_data_info(i)['id']: ds.get_data_info(i) for i in range(len(ds))}
    assert set(entries) == {a['id'] for a in kept}
    for ann in kept:
        entry, image = entries[ann['id']], images[ann['image_id']]
        expected = np.float32(_mmpose_box(ann['bbox'], image['width'], image['height']))
        np.testing.assert_array_equal(entry['bbox'], expected)
        triplets = np.array(ann['keypoints'], dtype=np.float32).reshape(17, 3)
        np.testing.assert_array_equal(entry['keypoints'], triplets[:, :2])
        np.testing.assert_array_equal(entry['keypoints_visible'], np.minimum(1, triplets[:, 2]))
        assert entry['img_id'] == ann['image_id'] and entry['bbox_score'] == 1.0
        assert entry['img_path'] == str(coco_dir / image['file_name'])
        assert (entry['area'], entry['iscrowd'], entry['num_keypoints'], entry['category_id']) \
            == (ann['area'], 0, ann['num_keypoints'], 1)
    assert ds.metainfo['skeleton'] == 'coco17'
    assert ds.metainfo['flip_indices'] == COCO17.flip_indices


def test_boxes_reaching_the_border_are_clipped_to_w_minus_1(coco_dir):
    ds = _gt(coco_dir)
    by_id = {ds.get_data_info(i)['id']: ds.get_data_info(i) for i in range(len(ds))}
    # 531914: x 540.04 + w 99.96 = 640.0 in a 640-wide image -> 639; 533949: 639.21 -> 639
    assert by_id[531914]['bbox'][2] == 639.0
    assert by_id[533949]['bbox'][2] == 639.0
    # 543117 starts at x = 0.5: unchanged
    assert by_id[543117]['bbox'][0] == np.float32(0.5)


def test_crowd_and_box_outside_image_are_dropped(coco_json, coco_dir, tmp_path):
    data = json.loads(json.dumps(coco_json))
    anns = {a['id']: a for a in data['annotations']}
    anns[442619]['iscrowd'] = 1
    anns[198196]['bbox'] = [700.0, 10.0, 30.0, 30.0]  # clipped to x1 = x2 = 499: zero width
    del anns[230195]['area']  # falls back to 0.53 * w * h of the clipped box
    del anns[230195]['num_keypoints']  # falls back to the count of non-zero keypoints
    path = _write(tmp_path, data)
    ds = CocoDataset(ann_file=str(path), data_root=str(coco_dir))
    ids = {ds.get_data_info(i)['id'] for i in range(len(ds))}
    assert len(ds) == 10 and not ids & {442619, 198196}
    entry = next(ds.get_data_info(i) for i in range(len(ds)) if ds.get_data_info(i)['id'] == 230195)
    x1, y1, x2, y2 = 257.76, 139.06, 257.76 + 140.05, 139.06 + 154.21  # inside the 500x333 image
    assert entry['area'] == pytest.approx(0.53 * (x2 - x1) * (y2 - y1), rel=1e-6)
    assert entry['num_keypoints'] == 15  # two of the 17 are (0, 0, 0)


def test_detection_mode_follows_mmpose(coco_dir):
    dets = json.loads((coco_dir / 'test_coco_det_AP_H_56.json').read_text())
    persons = [d for d in dets if d['category_id'] == 1]
    ds = _gt(coco_dir, bbox_file='test_coco_det_AP_H_56.json', test_mode=True)
    assert len(ds) == len(persons)
    for i in (0, len(ds) // 2, len(ds) - 1):
        entry, det = ds.get_data_info(i), persons[i]
        x, y, w, h = np.float32(det['bbox'])
        np.testing.assert_array_equal(entry['bbox'], [x, y, x + w, y + h])  # no clipping
        assert entry['bbox_score'] == pytest.approx(det['score'])
        assert entry['id'] == i and entry['img_id'] == det['image_id']
        assert not entry['keypoints'].any() and not entry['keypoints_visible'].any()
        assert entry['keypoints'].shape == (17, 2)

    thr = 0.5
    kept = [i for i, d in enumerate(persons) if d['score'] >= thr]
    high = _gt(coco_dir, bbox_file='test_coco_det_AP_H_56.json', test_mode=True,
               det_score_thr=thr)
    assert 0 < len(kept) < len(persons)
    # ids are numbered before the score filter, like mmpose's filter_data after loading
    assert [high.get_data_info(i)['id'] for i in range(len(high))] == kept


def test_bbox_file_is_for_evaluation_only(coco_dir):
    with pytest.raises(ValueError, match='test_mode'):
        _gt(coco_dir, bbox_file='test_coco_det_AP_H_56.json')


def test_missing_files_are_named(coco_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        CocoDataset(ann_file='nope.json', data_root=str(coco_dir))
    with pytest.raises(FileNotFoundError, match='dets_missing.json'):
        _gt(coco_dir, bbox_file='dets_missing.json', test_mode=True)


def test_malformed_annotation_names_file_and_record(coco_json, coco_dir, tmp_path):
    data = json.loads(json.dumps(coco_json))
    data['annotations'][3]['keypoints'] = [1, 2, 3]
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match=r"ann\.json.*annotation #3 \(id=1202706\).*keypoints"):
        CocoDataset(ann_file=str(path), data_root=str(coco_dir))
    data = json.loads(json.dumps(coco_json))
    del data['images'][1]['width']
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match=r"image #1 \(id=40083\).*'width'"):
        CocoDataset(ann_file=str(path), data_root=str(coco_dir))


def test_malformed_detections_name_file_and_record(coco_dir, tmp_path):
    path = _write(tmp_path, {'not': 'a list'}, 'dets.json')
    with pytest.raises(DatasetError, match=r'dets\.json.*json list of person detections'):
        _gt(coco_dir, bbox_file=str(path), test_mode=True)
    path = _write(tmp_path, [{'image_id': 785, 'bbox': [1, 2, 3, 4], 'score': 0.9,
                              'category_id': 1}, {'image_id': 785, 'bbox': [1, 2, 3, 4]}],
                  'dets.json')
    with pytest.raises(DatasetError, match=r"dets\.json.*detection #1: missing 'score'"):
        _gt(coco_dir, bbox_file=str(path), test_mode=True)
    path = _write(tmp_path, [{'image_id': 12345, 'bbox': [1, 2, 3, 4], 'score': 0.9,
                              'category_id': 1}], 'dets.json')
    with pytest.raises(DatasetError, match='detection #0: image_id 12345'):
        _gt(coco_dir, bbox_file=str(path), test_mode=True)


def test_wrong_layout_is_reported(fixtures_dir):
    # the MPII json list is not a COCO-style object
    with pytest.raises(DatasetError, match='not an object with images and annotations'):
        CocoDataset(ann_file=str(fixtures_dir / 'mpii' / 'test_mpii.json'))


# --------------------------------------------------------------------------- config
def test_cpm_coco_config_builds_and_packs(coco_dir):
    init_default_scope('poseforge')
    root = str(coco_dir)
    cfg = load_config(str(ROOT / 'configs' / 'cpm' / 'cpm_vgg19_coco-256x192.py'), {
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.dataset.ann_file': 'test_coco.json',
        'train_dataloader.dataset.data_prefix.img': '',
        'val_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.ann_file': 'test_coco.json',
        'val_dataloader.dataset.bbox_file': 'test_coco_det_AP_H_56.json',
        'val_dataloader.dataset.data_prefix.img': '',
        'val_evaluator.ann_file': str(coco_dir / 'test_coco.json'),
    })
    assert cfg.model.test_cfg.flip_test is True
    assert cfg.model.backbone.num_keypoints == 17
    train = DATASETS.build(cfg.train_dataloader.dataset)
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 256, 192)
    assert tuple(sample['data_samples']['heatmaps'].shape) == (17, 32, 24)
    assert sample['data_samples']['meta']['flip_indices'] == COCO17.flip_indices
    val = DATASETS.build(cfg.val_dataloader.dataset)
    packed = val[0]
    assert tuple(packed['inputs'].shape) == (3, 256, 192) and 'heatmaps' not in packed[
        'data_samples']
    meta = packed['data_samples']['meta']
    assert meta['bbox_score'] == pytest.approx(val.get_data_info(0)['bbox_score'])
    assert cfg.val_evaluator.type == 'CocoMetric'
