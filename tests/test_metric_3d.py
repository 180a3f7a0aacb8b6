"""3D hand metrics: root-relative EPE, 3D PCK curve, AUC(20-50 mm) and scale alignment, with
expected values derived by hand; the registered Hand3DMetric end to end."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

import poseforge.evaluation.metrics.keypoint_3d_metrics  # noqa: F401  (registers the metric)
from poseforge.evaluation.functional.keypoint_3d import (align_scale_to_gt, auc_3d,
                                                         bone_lengths, epe_3d,
                                                         joint_errors_3d, pck_3d_curve)
from poseforge.evaluation.metrics.keypoint_3d_metrics import Hand3DMetric
from poseforge.registry import METRICS

THRESHOLDS = np.arange(0.0, 51.0)  # 0, 1, ..., 50 mm


@pytest.fixture(scope='module')
def hands() -> np.ndarray:
    """Five ground-truth hands (mm, camera frame), 21 joints, distinct middle MCP->PIP bones.

    Integer coordinates keep every difference below exact in float64, so an error built to be
    30 mm is exactly 30 and the ``<=`` threshold test at 30 mm is not decided by rounding."""
    rng = np.random.default_rng(0)
    return rng.integers(-60, 61, size=(5, 21, 3)).astype(np.float64) + [0.0, 0.0, 450.0]


def offset_prediction(gt: np.ndarray, length: float) -> np.ndarray:
    """Every non-root joint moved by a (3, 4, 0) * length / 5 vector (a known error), the whole
    hand then translated (which root-relative evaluation must ignore)."""
    pred = gt.copy()
    pred[:, 1:] += np.array([3.0, 4.0, 0.0]) * length / 5.0
    return pred + [100.0, -50.0, 7.0]


def test_constant_offset_gives_known_epe(hands):
    errors = joint_errors_3d(offset_prediction(hands, 30.0), hands)
    assert np.allclose(errors[:, 0], 0) and np.allclose(errors[:, 1:], 30.0)
    mean, median = epe_3d(errors)
    assert mean == pytest.approx(30.0 * 20 / 21)  # the root (error 0) is one of 21 joints
    assert median == pytest.approx(30.0 * 20 / 21)
    without_root = np.ones(errors.shape, bool)
    without_root[:, 0] = False
    assert epe_3d(errors, without_root)[0] == pytest.approx(30.0)


def test_pck_curve_steps_at_the_offset_and_auc_follows(hands):
    errors = joint_errors_3d(offset_prediction(hands, 30.0), hands)
    pck = pck_3d_curve(errors, THRESHOLDS)
    # below 30 mm only the root is correct; from 30 mm on (<=, as hand3d) every joint is
    assert np.allclose(pck[THRESHOLDS < 30], 1 / 21)
    assert np.allclose(pck[THRESHOLDS >= 30], 1.0)
    # trapezoid over 20..50: nine 1-mm steps at 1/21, one ramp 29->30, twenty steps at 1
    expected = (9 * (1 / 21) + (1 / 21 + 1) / 2 + 20 * 1.0) / 30
    assert auc_3d(THRESHOLDS, pck) == pytest.approx(expected)
    # an offset beyond the range: the AUC only sees the root
    far = pck_3d_curve(joint_errors_3d(offset_prediction(hands, 60.0), hands), THRESHOLDS)
    assert auc_3d(THRESHOLDS, far) == pytest.approx(1 / 21)


def test_perfect_prediction(hands):
    errors = joint_errors_3d(hands + [5.0, 5.0, 5.0], hands)
    pck = pck_3d_curve(errors, THRESHOLDS)
    assert np.all(pck == 1.0) and auc_3d(THRESHOLDS, pck) == pytest.approx(1.0)
    assert epe_3d(errors) == (0.0, 0.0)


def test_joints_are_weighted_equally_under_a_mask():
    # three joints, two samples; joint 0 is the root
    gt = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[0, 1, 0] = 10.0   # joint 1: 10 mm in sample 0
    pred[1, 1, 0] = 100.0  # ... and 100 mm in sample 1, which is masked out
    pred[1, 2, 1] = 20.0   # joint 2: 0 mm and 20 mm
    mask = np.array([[1, 1, 1], [1, 0, 1]])
    errors = joint_errors_3d(pred, gt)
    mean, median = epe_3d(errors, mask)
    # per joint: 0, 10, 10 (mean of 0 and 20) -> 20/3; a pooled mean would be 30/5 = 6
    assert mean == pytest.approx(20 / 3)
    assert median == pytest.approx(20 / 3)  # medians 0, 10, median(0, 20) = 10
    pck = pck_3d_curve(errors, [5.0, 10.0, 20.0], mask)
    assert np.allclose(pck, [(1 + 0 + 0.5) / 3, (1 + 1 + 0.5) / 3, 1.0])
    assert np.isnan(epe_3d(errors, np.zeros_like(mask))[0])


def test_scale_alignment_undoes_a_global_scale(hands):
    root = hands[:, :1]
    pred = (hands - root) * 1.5 + root + [3.0, 2.0, 1.0]
    raw = joint_errors_3d(pred, hands)
    expected = 0.5 * np.linalg.norm(hands - root, axis=-1)  # |1.5 x - x| per joint
    assert np.allclose(raw, expected)
    assert np.allclose(joint_errors_3d(pred, hands, scale_bones=(9, 10)), 0.0, atol=1e-9)
    limbs = [(0, 1), (1, 2), (9, 10), (13, 14)]
    assert np.allclose(joint_errors_3d(pred, hands, scale_bones=limbs), 0.0, atol=1e-9)
    # the reference bone of the aligned prediction has the ground truth's length
    aligned = align_scale_to_gt(pred - pred[:, :1], hands - root)
    assert np.allclose(bone_lengths(aligned), np.linalg.norm(hands[:, 10] - hands[:, 9], axis=1))
    # a degenerate prediction (bone of length 0) is left unscaled, not turned into NaN
    flat = np.zeros_like(hands)
    assert np.isfinite(joint_errors_3d(flat, hands, scale_bones=(9, 10))).all()


def test_auc_needs_both_ends_of_its_range_and_sorted_thresholds():
    with pytest.raises(ValueError, match='both ends'):
        auc_3d(np.arange(25.0, 51.0), np.ones(26))
    with pytest.raises(ValueError, match='strictly increasing'):
        pck_3d_curve(np.zeros((1, 2)), [10.0, 5.0])


def test_registered_metric_end_to_end(hands, tmp_path):
    metric = METRICS.build(dict(type='Hand3DMetric', out_dir=str(tmp_path / 'curves')))
    assert isinstance(metric, Hand3DMetric)
    pred = offset_prediction(hands, 30.0)
    samples = [dict(pred_keypoints_3d=torch.from_numpy(p), keypoints_3d=g,
                    keypoints_visible=np.ones(21, np.float32)) for p, g in zip(pred, hands)]
    metric.process({}, samples[:3])
    metric.process({}, samples[3:])
    metrics = metric.evaluate(len(samples))
    assert list(metrics)[0] == 'AUC3D_20-50/wrist'  # first: save_best='auto' picks it
    assert metrics['EPE3D/wrist'] == pytest.approx(30.0 * 20 / 21)
    assert metrics['AUC3D_20-50/wrist'] == pytest.approx((9 / 21 + (1 / 21 + 1) / 2 + 20) / 30)
    # a pure offset is not a scale error: aligned numbers barely move (the bone (9, 10) moves
    # rigidly, so its length is unchanged and the alignment ratio is exactly 1)
    assert metrics['EPE3D_aligned/wrist'] == pytest.approx(metrics['EPE3D/wrist'])
    png = cv2.imread(str(tmp_path / 'curves' / 'pck3d_curve.png'))
    assert png is not None and png.shape[0] > 100
    saved = json.loads((tmp_path / 'curves' / 'pck3d_curve.json').read_text())
    assert saved['thresholds_mm'] == THRESHOLDS.tolist()
    assert np.allclose(saved['curves']['PCK3D/wrist'][29], 1 / 21)
    assert saved['curves']['PCK3D/wrist'][30] == 1.0


def test_metric_options_and_errors(hands):
    metric = Hand3DMetric(scale_align=True, exclude_root=True, scale_bone='all')
    metric.dataset_meta = dict(limbs=[[0, 1], [9, 10]])
    scaled = (hands - hands[:, :1]) * 2.0
    metric.process({}, [dict(pred_keypoints_3d=p, keypoints_3d=g) for p, g in zip(scaled, hands)])
    metrics = metric.evaluate(len(hands))
    assert set(metrics) == {'AUC3D_20-50_aligned/wrist', 'EPE3D_aligned/wrist',
                            'EPE3D_median_aligned/wrist'}
    assert metrics['EPE3D_aligned/wrist'] == pytest.approx(0.0, abs=1e-9)
    assert metrics['AUC3D_20-50_aligned/wrist'] == pytest.approx(1.0)
    with pytest.raises(KeyError, match="needs 'pred_keypoints_3d'"):
        Hand3DMetric().process({}, [dict(keypoints_3d=hands[0])])
    with pytest.raises(ValueError, match="scale_align"):
        Hand3DMetric(scale_align='sometimes')
    with pytest.raises(ValueError, match='both ends'):
        Hand3DMetric(thresholds=np.arange(0, 40.0))


def test_pck_curve_matches_the_per_threshold_definition():
    """The binary-search curve against the literal definition, on random errors and masks."""
    rng = np.random.default_rng(1)
    errors = rng.uniform(0, 60, size=(200, 21)).round(1)  # ties with the thresholds included
    mask = rng.random((200, 21)) > 0.3
    mask[:, 5] = False  # a joint never valid is left out of the mean
    thresholds = np.arange(0.0, 50.5, 0.5)
    valid = mask.sum(axis=0) > 0
    literal = [(((errors <= t) & mask).sum(axis=0)[valid] / mask.sum(axis=0)[valid]).mean()
               for t in thresholds]
    assert np.allclose(pck_3d_curve(errors, thresholds, mask), literal, rtol=0, atol=1e-12)


def test_visibility_is_opt_in(hands):
    """hand3d evaluates every joint in 3D; a 2D visibility flag excludes joints only on request."""
    pred = offset_prediction(hands, 30.0)
    occluded = np.ones(21, np.float32)
    occluded[1:] = 0  # only the root "visible" in 2D
    samples = [dict(pred_keypoints_3d=p, keypoints_3d=g, keypoints_visible=occluded)
               for p, g in zip(pred, hands)]
    default = Hand3DMetric(scale_align=False)
    default.process({}, samples)
    assert default.evaluate(len(samples))['EPE3D/wrist'] == pytest.approx(30.0 * 20 / 21)
    masked = Hand3DMetric(scale_align=False, visibility_key='keypoints_visible')
    masked.process({}, samples)
    assert masked.evaluate(len(samples))['EPE3D/wrist'] == pytest.approx(0.0)
