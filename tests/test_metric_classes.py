"""Registered metrics: built from configs, fed prediction dicts, checked against the functions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from poseforge.evaluation.functional import (keypoint_auc, keypoint_epe,
                                             keypoint_pck_accuracy)
from poseforge.registry import METRICS
from poseforge.skeletons import get_skeleton

NUM_KEYPOINTS = 21


def make_samples(num: int, seed: int = 0, as_torch: bool = False) -> list[dict]:
    """Prediction dicts as ``TopdownPoseEstimator(mode='predict')`` returns them."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(num):
        gt = rng.uniform(20, 220, (NUM_KEYPOINTS, 2)).astype(np.float32)
        pred = (gt + rng.normal(0, 6, gt.shape)).astype(np.float32)
        visible = (rng.random(NUM_KEYPOINTS) > 0.2).astype(np.float32)
        lo, hi = gt.min(0) - 5, gt.max(0) + 5
        sample = dict(pred_keypoints=pred, pred_scores=rng.random(NUM_KEYPOINTS).astype(
            np.float32), keypoints=gt, keypoints_visible=visible,
            bbox=np.concatenate([lo, hi]).astype(np.float32),
            head_size=float(rng.uniform(20, 60)), img_path='x.jpg', id=len(samples))
        if as_torch:
            sample = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                      for k, v in sample.items()}
        samples.append(sample)
    return samples


def stacked(samples: list[dict]):
    def arr(key):
        return np.stack([np.asarray(s[key]) for s in samples])
    return arr('pred_keypoints'), arr('keypoints'), arr('keypoints_visible').astype(bool)


def feed(metric, samples: list[dict], batch_size: int = 8) -> dict:
    for start in range(0, len(samples), batch_size):
        metric.process({'inputs': None}, samples[start:start + batch_size])
    return metric.evaluate(len(samples))


def test_pck_bbox_matches_function():
    samples = make_samples(50)
    metric = METRICS.build(dict(type='PCKAccuracy', thr=0.05))
    result = feed(metric, samples)
    pred, gt, mask = stacked(samples)
    boxes = np.stack([s['bbox'] for s in samples])
    size = (boxes[:, 2:] - boxes[:, :2]).max(axis=1)  # max(w, h), both dimensions
    _, expected, _ = keypoint_pck_accuracy(pred, gt, mask, 0.05, np.stack([size, size], 1))
    assert set(result) == {'PCK@0.05'}
    assert result['PCK@0.05'] == expected
    assert 0.2 < expected < 0.9  # boxes ~200 px, errors ~6 px per axis, threshold ~10 px


def test_pck_accepts_torch_and_numpy_alike():
    numpy_result = feed(METRICS.build(dict(type='PCKAccuracy', thr=0.1)), make_samples(30))
    torch_result = feed(METRICS.build(dict(type='PCKAccuracy', thr=0.1)),
                        make_samples(30, as_torch=True))
    assert numpy_result == torch_result


def test_pckh_torso_and_several_items():
    samples = make_samples(40, seed=3)
    metric = METRICS.build(dict(type='PCKAccuracy', thr=0.5, norm_item=['bbox', 'head',
                                                                          'torso']))
    result = feed(metric, samples)
    assert set(result) == {'PCK@0.5', 'PCKh@0.5', 'tPCK@0.5'}
    pred, gt, mask = stacked(samples)
    head = np.array([s['head_size'] for s in samples])
    _, pckh, _ = keypoint_pck_accuracy(pred, gt, mask, 0.5, np.stack([head, head], 1))
    assert result['PCKh@0.5'] == pckh
    torso = np.array([np.linalg.norm(s['keypoints'][4] - s['keypoints'][5]) for s in samples])
    _, tpck, _ = keypoint_pck_accuracy(pred, gt, mask, 0.5, np.stack([torso, torso], 1))
    assert result['tPCK@0.5'] == tpck


def test_per_joint_uses_keypoint_names():
    samples = make_samples(20, seed=4)
    for sample in samples:
        sample['keypoints_visible'][3] = 0  # joint 3 never visible -> mmpose's -1
    metric = METRICS.build(dict(type='PCKAccuracy', thr=0.2, per_joint=True))
    metric.dataset_meta = get_skeleton('hand21').metainfo()
    result = feed(metric, samples)
    names = get_skeleton('hand21').keypoint_names
    assert len(result) == 1 + NUM_KEYPOINTS
    assert result[f'PCK@0.2/{names[3]}'] == -1.0
    per_joint = [result[f'PCK@0.2/{name}'] for name in names]
    valid = [v for v in per_joint if v >= 0]
    assert result['PCK@0.2'] == pytest.approx(np.mean(valid))

    unnamed = METRICS.build(dict(type='PCKAccuracy', thr=0.2, per_joint=True))
    assert 'PCK@0.2/3' in feed(unnamed, samples)


def test_perfect_predictions():
    samples = make_samples(5)
    for sample in samples:
        sample['pred_keypoints'] = sample['keypoints'].copy()
    assert feed(METRICS.build(dict(type='PCKAccuracy', thr=0.05)), samples) == {
        'PCK@0.05': 1.0}
    assert feed(METRICS.build(dict(type='EPE')), samples) == {'EPE': 0.0}
    # distance 0 is below every threshold except 0: AUC = 19/20
    assert feed(METRICS.build(dict(type='AUC')), samples)['AUC'] == pytest.approx(0.95)


def test_auc_and_epe_match_functions():
    samples = make_samples(64, seed=5)
    pred, gt, mask = stacked(samples)
    auc = feed(METRICS.build(dict(type='AUC', norm_factor=30, num_thrs=20)), samples)
    assert auc == {'AUC': keypoint_auc(pred, gt, mask, 30, 20)}
    auc10 = feed(METRICS.build(dict(type='AUC', norm_factor=20, num_thrs=10)), samples)
    assert auc10['AUC'] == keypoint_auc(pred, gt, mask, 20, 10)
    epe = feed(METRICS.build(dict(type='EPE')), samples)
    assert epe == {'EPE': keypoint_epe(pred, gt, mask)}


def test_evaluator_with_prefix_and_padding():
    """Through mmengine's Evaluator (as the Runner's val loop uses it), with a prefix; the
    size passed to evaluate drops padded duplicates, which needs one result per sample."""
    samples = make_samples(10, seed=6)
    padded = samples + samples[:2]
    evaluator = Evaluator([METRICS.build(dict(type='PCKAccuracy', thr=0.2, prefix='hand')),
                           METRICS.build(dict(type='AUC')), METRICS.build(dict(type='EPE'))])
    for start in range(0, len(padded), 4):
        evaluator.process(padded[start:start + 4], {'inputs': None})
    result = evaluator.evaluate(len(samples))
    assert set(result) == {'hand/PCK@0.2', 'AUC', 'EPE'}
    pred, gt, mask = stacked(samples)
    assert result['EPE'] == keypoint_epe(pred, gt, mask)


def test_empty_results_give_a_clear_error():
    metric = METRICS.build(dict(type='PCKAccuracy'))
    with pytest.raises(ValueError, match='no results to evaluate'):
        metric.evaluate(0)
    with pytest.raises(ValueError, match='EPE has no results'):
        METRICS.build(dict(type='EPE')).compute_metrics([])


def test_missing_ground_truth_is_named():
    sample = make_samples(1)[0]
    del sample['head_size']
    metric = METRICS.build(dict(type='PCKAccuracy', norm_item='head'))
    with pytest.raises(KeyError, match='head_size'):
        metric.process({}, [sample])


def test_bad_norm_item():
    with pytest.raises(KeyError, match='norm_item'):
        METRICS.build(dict(type='PCKAccuracy', norm_item='elbow'))


def test_unknown_type_suggests_close_names():
    with pytest.raises(KeyError, match='PCKAccuracy'):
        METRICS.build(dict(type='PCKAcuracy'))
