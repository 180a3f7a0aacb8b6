"""CocoMetric: perfect predictions on the fixture give AP 1; shifted keypoints with a known OKS
give the AP/AR that COCO's 101-point interpolation yields by hand; rescoring and OKS NMS
change the ranking exactly as mmpose's rules say."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from poseforge.datasets.coco import CocoDataset
from poseforge.evaluation.metrics.coco_metric import (STATS_NAMES, CocoMetric, oks_matrix,
                                                      rescore_instances)
from poseforge.registry import METRICS
from poseforge.skeletons import COCO17

SIGMAS = np.array(COCO17.sigmas)


@pytest.fixture(scope='module')
def ann_path(fixtures_dir) -> Path:
    return fixtures_dir / 'coco' / 'test_coco.json'


@pytest.fixture(scope='module')
def gt_entries(fixtures_dir) -> list[dict]:
    ds = CocoDataset(ann_file='test_coco.json', data_root=str(fixtures_dir / 'coco'),
                     test_mode=True)
    return [ds.get_data_info(i) for i in range(len(ds))]


def _prediction(entry: dict, keypoints=None, bbox_score: float = 1.0, scores=None) -> dict:
    sample = dict(entry)
    sample['pred_keypoints'] = np.array(entry['keypoints'] if keypoints is None else keypoints,
                                        dtype=np.float32)
    sample['pred_scores'] = np.ones(17, np.float32) if scores is None else np.asarray(scores)
    sample['bbox_score'] = bbox_score
    return sample


def _shift_for_oks(entry: dict, oks: float) -> np.ndarray:
    """Keypoints moved along x so that every keypoint's COCO similarity is ``oks``:
    exp(-d^2 / (2 sigma)^2 / area / 2) = oks  ->  d = sqrt(-2 ln(oks) * area) * 2 sigma."""
    distance = np.sqrt(-2.0 * math.log(oks) * entry['area']) * 2 * SIGMAS
    moved = np.array(entry['keypoints'], dtype=np.float64)
    moved[:, 0] += distance
    return moved


def _evaluate(samples: list[dict], **kwargs) -> dict:
    metric = CocoMetric(**kwargs)
    metric.dataset_meta = COCO17.metainfo()
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_perfect_predictions_give_ap_one(gt_entries, ann_path):
    samples = [_prediction(e) for e in gt_entries]
    for ann_file in (str(ann_path), None):  # the json, or the samples' own ground truth
        result = _evaluate(samples, ann_file=ann_file)
        assert list(result) == list(STATS_NAMES)
        assert all(value == pytest.approx(1.0) for value in result.values()), result


def test_shifted_keypoints_give_the_hand_computed_ap(gt_entries, ann_path):
    """10 exact people (score 1), A at OKS 0.72 (score 0.75 x 1), B at OKS 0.92 (score
    1.0 x mean(0.8 of the keypoints above 0.2) = 0.8; a plain keypoint mean, 0.47, would rank
    it below A): 12 ground-truth people.

    OKS thresholds .50 .. .70 (5): all 12 match -> AP 1.
    .75 .. .90 (4): B matches, ranked before the false positive A: precision 1 up to recall
    11/12 -> 92 of COCO's 101 recall points at 1 -> 92 / 101.
    .95: A and B both miss: precision 1 up to recall 10/12 -> 84 / 101.
    """
    by_id = {e['id']: e for e in gt_entries}
    a, b = by_id[442619], by_id[1724673]  # all 17 keypoints labelled, alone in their region
    b_scores = np.where(np.arange(17) % 2 == 0, 0.8, 0.1)  # the 0.1s are below the 0.2 thr
    samples = [_prediction(e) for e in gt_entries if e['id'] not in (a['id'], b['id'])]
    samples += [_prediction(a, _shift_for_oks(a, 0.72), bbox_score=0.75),
                _prediction(b, _shift_for_oks(b, 0.92), bbox_score=1.0, scores=b_scores)]
    middle, last = 92 / 101, 84 / 101
    expected = {'AP': (5 + 4 * middle + last) / 10, 'AP .5': 1.0, 'AP .75': middle,
                'AR': (5 + 4 * 11 / 12 + 10 / 12) / 10, 'AR .5': 1.0, 'AR .75': 11 / 12}
    for nms_mode in ('none', 'oks_nms'):  # nothing overlaps: NMS must keep everyone
        result = _evaluate(samples, ann_file=str(ann_path), nms_mode=nms_mode)
        for key, value in expected.items():
            assert result[key] == pytest.approx(value, abs=1e-9), (nms_mode, key)


def _single_person_ann(tmp_path: Path, ann_path: Path, ann_id: int) -> tuple[Path, dict]:
    data = json.loads(ann_path.read_text())
    ann = next(a for a in data['annotations'] if a['id'] == ann_id)
    data['annotations'] = [ann]
    data['images'] = [im for im in data['images'] if im['id'] == ann['image_id']]
    path = tmp_path / 'one.json'
    path.write_text(json.dumps(data))
    return path, ann


def _crop_of_area(area: float, input_size=(192, 256)) -> dict:
    """meta whose crop (input_to_image x input_size) covers ``area`` px: NMS's person area."""
    s = math.sqrt(area / (input_size[0] * input_size[1]))
    return dict(input_to_image=np.array([[s, 0, 10], [0, s, 20]]),
                input_size=np.array(input_size))


def test_oks_nms_suppresses_the_lower_scored_duplicate(gt_entries, ann_path, tmp_path):
    """One person; a poor prediction (OKS 0.62, score 0.9) and an exact one (score 0.5).

    Without NMS: OKS .50-.60 the poor one matches first (AP 1), above that the exact one is
    the second detection (precision 1/2 at recall 1 -> AP 0.5): (3 + 7 * 0.5) / 10 = 0.65.
    NMS at 0.5: the two overlap at OKS 0.62 > 0.5, the exact one goes: 3 / 10 = 0.3.
    """
    path, _ = _single_person_ann(tmp_path, ann_path, 442619)
    entry = next(e for e in gt_entries if e['id'] == 442619)
    crop = _crop_of_area(entry['area'])
    poor = dict(_prediction(entry, _shift_for_oks(entry, 0.62), bbox_score=0.9), **crop)
    exact = dict(_prediction(entry, bbox_score=0.5), id=1, **crop)
    samples = [poor, exact]
    assert _evaluate(samples, ann_file=str(path), nms_mode='none')['AP'] == pytest.approx(0.65)
    assert _evaluate(samples, ann_file=str(path), nms_thr=0.9)['AP'] == pytest.approx(0.65)
    assert _evaluate(samples, ann_file=str(path), nms_thr=0.5)['AP'] == pytest.approx(0.3)


def test_rescoring_rules():
    keypoint_scores = np.array([[0.1, 0.5, 0.9], [0.1, 0.2, 0.15], [1.0, 1.0, 1.0]])
    bbox_scores = np.array([0.8, 0.9, 0.5])
    # mean of the scores strictly above 0.2, times the box score; none above -> 0
    np.testing.assert_allclose(
        rescore_instances(bbox_scores, keypoint_scores, 'bbox_keypoint', 0.2),
        [0.8 * 0.7, 0.0, 0.5])
    np.testing.assert_allclose(rescore_instances(bbox_scores, keypoint_scores, 'bbox'),
                               bbox_scores)
    np.testing.assert_allclose(rescore_instances(bbox_scores, keypoint_scores, 'keypoint'),
                               [0.5, 0.15, 1.0])


def test_oks_matrix_by_hand():
    sigmas = [0.5, 0.25]
    a = np.array([[[0.0, 0.0], [10.0, 0.0]]])
    b = np.array([[[0.0, 0.0], [10.0, 0.0]], [[2.0, 0.0], [10.0, 1.0]]])
    oks = oks_matrix(a, b, np.array([4.0]), np.array([4.0, 2.0]), sigmas)
    # second pair: mean area 3; e = d^2 / (2 sigma)^2 / 3 / 2 -> 4/1/6 and 1/0.25/6
    expected = (math.exp(-4 / 6) + math.exp(-4 / 6)) / 2
    np.testing.assert_allclose(oks, [[1.0, expected]], rtol=1e-12)


def test_errors_are_clear(gt_entries, ann_path, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        CocoMetric(ann_file=str(tmp_path / 'missing.json'))
    with pytest.raises(ValueError, match='score_mode'):
        CocoMetric(score_mode='rle')
    stranger = dict(_prediction(gt_entries[0]), img_id=424242)
    with pytest.raises(ValueError, match='424242'):
        _evaluate([stranger], ann_file=str(ann_path))
    bare = {k: v for k, v in _prediction(gt_entries[0]).items() if k != 'area'}
    with pytest.raises(KeyError, match='meta_keys'):
        CocoMetric().process({}, [bare])


def test_registered():
    metric = METRICS.build(dict(type='CocoMetric', nms_mode='none'))
    assert isinstance(metric, CocoMetric) and metric.prefix == ''
