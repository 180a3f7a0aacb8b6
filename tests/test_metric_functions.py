"""Keypoint metric functions against mmpose 1.x's definitions.

Three kinds of checks:
* hand-derived cases (expected values worked out in the comments);
* mmpose's own unit-test cases (tests/test_evaluation/test_functional/test_keypoint_eval.py),
  with the expected numbers re-derived here;
* the vectorised implementation against a plain reference written below, which follows
  mmpose's algorithm literally (float32 distance array, one pass per joint and per threshold),
  on random data full of corner cases. Equality is exact, not approximate.
"""
from __future__ import annotations

import numpy as np
import pytest

from poseforge.evaluation.functional import (auc_thresholds, keypoint_auc, keypoint_epe,
                                             keypoint_nme, keypoint_pck_accuracy,
                                             multi_threshold_pck, normalized_distances,
                                             pck_curve, pck_from_distances)


# --------------------------------------------------------------------------- plain reference
def ref_distances(pred, gt, mask, norm_factor):
    """(K, N) float32 distances, -1 where ignored: the definition, written out plainly."""
    num_instances, num_joints, _ = pred.shape
    norm = np.array(norm_factor, copy=True)
    keep = np.asarray(mask) > 0
    for n in range(num_instances):
        if np.any(norm[n] == 0):  # a zero size in any dimension drops the whole instance
            keep[n, :] = False
    norm[norm <= 0] = 1e6  # negative sizes are replaced, not dropped
    dist = np.full((num_instances, num_joints), -1, dtype=np.float32)
    dist[keep] = np.linalg.norm(((pred - gt) / norm[:, None, :])[keep], axis=-1)
    return dist.T


def ref_joint_accuracy(joint_dist, thr):
    valid = joint_dist[joint_dist != -1]
    if len(valid) == 0:
        return -1
    return (valid < thr).sum() / len(valid)


def ref_pck(pred, gt, mask, thr, norm_factor):
    dist = ref_distances(pred, gt, mask, norm_factor)
    acc = np.array([ref_joint_accuracy(d, thr) for d in dist])
    valid = acc[acc >= 0]
    return acc, (valid.mean() if len(valid) > 0 else 0), len(valid)


def ref_auc(pred, gt, mask, norm_factor, num_thrs=20):
    # mmpose writes ``[[norm_factor, norm_factor]]`` (D = 2 only); D columns here, for 3D too
    norm = np.tile(np.array([[norm_factor] * pred.shape[-1]]), (pred.shape[0], 1))
    auc = 0
    for i in range(num_thrs):
        _, avg, _ = ref_pck(pred, gt, mask, 1.0 * i / num_thrs, norm)
        auc += 1.0 / num_thrs * avg
    return auc


def ref_pooled_mean(dist):
    valid = dist[dist != -1]
    return valid.sum() / max(1, len(valid))


def ref_epe(pred, gt, mask):
    ones = np.ones((pred.shape[0], pred.shape[2]), dtype=np.float32)
    return ref_pooled_mean(ref_distances(pred, gt, mask, ones))


def ref_nme(pred, gt, mask, norm_factor):
    return ref_pooled_mean(ref_distances(pred, gt, mask, norm_factor))


# --------------------------------------------------------------------------- hand-derived
def hand_case():
    """2 instances x 3 joints. Sizes: instance 0 is 100 px, instance 1 is 50 px.

    pixel offsets (pred - gt)     normalised by the size
    joint 0: (10, 0) | (0, 5)     0.1 | 0.1
    joint 1: (30, 40) | (5, 0)    0.5 | 0.1
    joint 2: masked  | (10, 0)    --  | 0.2  (exactly 10 / 50)
    """
    gt = np.array([[[100, 100], [50, 60], [7, 8]],
                   [[20, 30], [40, 40], [0, 0]]], dtype=np.float64)
    offsets = np.array([[[10, 0], [30, 40], [99, 99]],
                        [[0, 5], [5, 0], [10, 0]]], dtype=np.float64)
    mask = np.array([[True, True, False], [True, True, True]])
    norm = np.array([[100, 100], [50, 50]], dtype=np.float64)
    return gt + offsets, gt, mask, norm


def test_hand_case_pck():
    pred, gt, mask, norm = hand_case()
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.2, norm)
    # thr 0.2: joint 0 -> 2/2; joint 1 -> 0.1 only -> 1/2; joint 2 -> 0.2 is not < 0.2 -> 0/1
    np.testing.assert_array_equal(acc, [1.0, 0.5, 0.0])
    assert avg == pytest.approx(0.5) and cnt == 3
    # thr 0.3: joint 2 becomes correct; joint 1 unchanged (0.5 >= 0.3)
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.3, norm)
    np.testing.assert_array_equal(acc, [1.0, 0.5, 1.0])
    assert avg == pytest.approx(2.5 / 3) and cnt == 3


def test_hand_case_zero_size_drops_instance():
    pred, gt, mask, norm = hand_case()
    norm[1] = [50, 0]  # a zero in one dimension drops instance 1 entirely
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.2, norm)
    # only instance 0 remains: joint 0 -> 0.1 ok; joint 1 -> 0.5 no; joint 2 -> nothing valid
    np.testing.assert_array_equal(acc, [1.0, 0.0, -1.0])
    assert avg == 0.5 and cnt == 2
    np.testing.assert_array_equal(norm[1], [50, 0])  # the caller's array is left alone


def test_hand_case_negative_size_is_replaced_not_dropped():
    pred, gt, mask, norm = hand_case()
    norm[0] = [-1, -1]  # mmpose: size -> 1e6, so instance 0's distances become ~0
    acc, _, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.2, norm)
    # joint 1: instance 0 now ~0 (correct), instance 1 0.1 (correct) -> 1
    np.testing.assert_array_equal(acc, [1.0, 1.0, 0.0])
    assert cnt == 3


def test_hand_case_epe_auc_nme():
    pred, gt, mask, norm = hand_case()
    # pixel distances of valid keypoints: 10, 5, 50, 5, 10 -> 80 / 5
    assert keypoint_epe(pred, gt, mask) == pytest.approx(16.0)
    # normalised: 0.1, 0.1, 0.5, 0.1, 0.2 -> 1.0 / 5
    assert keypoint_nme(pred, gt, mask, norm) == pytest.approx(0.2)
    # AUC with 30 px and 4 thresholds (0, .25, .5, .75); distances / 30:
    # joint 0: 1/3, 1/6; joint 1: 5/3, 1/6; joint 2: 1/3
    # t=0: 0;  t=.25: (1/2 + 1/2 + 0)/3 = 1/3;  t=.5 and t=.75: (1 + 1/2 + 1)/3 = 5/6
    # AUC = (0 + 1/3 + 5/6 + 5/6) / 4 = 0.5
    assert keypoint_auc(pred, gt, mask, 30, num_thrs=4) == pytest.approx(0.5)


def test_epe_and_nme_are_zero_without_valid_keypoints():
    pred, gt, _, norm = hand_case()
    nothing = np.zeros((2, 3), dtype=bool)
    assert keypoint_epe(pred, gt, nothing) == 0.0
    assert keypoint_nme(pred, gt, nothing, norm) == 0.0
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, nothing, 0.2, norm)
    np.testing.assert_array_equal(acc, [-1, -1, -1])
    assert avg == 0 and cnt == 0
    assert keypoint_auc(pred, gt, nothing, 30) == 0.0


def test_threshold_is_strict_and_compared_in_float32():
    """A distance of exactly float32(0.35) is *not* below thr=0.35.

    10.5 px / 30 px = 0.35 -> stored as float32(0.35) = 0.34999999404 < 0.35. numpy compares a
    float32 array with the Python float 0.35 in float32, so ``d < thr`` is False (as in
    mmpose, also for AUC's threshold 7/20); with a float64 numpy threshold it is True.
    """
    gt = np.zeros((1, 1, 2))
    pred = np.array([[[10.5, 0.0]]])
    mask = np.ones((1, 1), dtype=bool)
    norm = np.full((1, 2), 30.0)
    assert normalized_distances(pred, gt, mask, norm)[0, 0] == np.float32(0.35)
    assert keypoint_pck_accuracy(pred, gt, mask, 0.35, norm)[0][0] == 0.0
    assert keypoint_pck_accuracy(pred, gt, mask, np.float64(0.35), norm)[0][0] == 1.0
    assert ref_pck(pred, gt, mask, np.float64(0.35), norm)[0][0] == 1.0
    assert keypoint_pck_accuracy(pred, gt, mask, 0.36, norm)[0][0] == 1.0
    # AUC, 20 thresholds: correct from 0.4 on, i.e. for i = 8..19 -> 12 / 20
    assert keypoint_auc(pred, gt, mask, 30) == pytest.approx(0.6)
    assert keypoint_auc(pred, gt, mask, 30) == ref_auc(pred, gt, mask, 30)


# --------------------------------------------------------------------------- mmpose's cases
def mmpose_pck_case():
    """mmpose's PCK test: 2 instances x 5 joints, instance 1 all zeros, joint 2 masked."""
    pred = np.zeros((2, 5, 2))
    gt = np.zeros((2, 5, 2))
    mask = np.array([[True, True, False, True, True]] * 2)
    pred[0, 0], gt[0, 0] = [10, 0], [10, 0]
    pred[0, 1], gt[0, 1] = [20, 20], [10, 10]
    pred[0, 2], gt[0, 2] = [0, 0], [-1, 0]
    pred[0, 3], gt[0, 3] = [30, 30], [30, 30]
    pred[0, 4], gt[0, 4] = [0, 10], [0, 10]
    return pred, gt, mask


def test_mmpose_pck_case():
    pred, gt, mask = mmpose_pck_case()
    # size 10: instance 0 distances 0, sqrt(2), --, 0, 0; instance 1 all 0 (pred == gt).
    # joint 1: sqrt(2) >= 0.5 fails, 0 passes -> 0.5; joint 2 never valid -> -1.
    # average over the 4 valid joints: (1 + 0.5 + 1 + 1) / 4 = 0.875
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.5,
                                          np.full((2, 2), 10, dtype=np.float32))
    np.testing.assert_array_equal(acc, [1, 0.5, -1, 1, 1])
    assert avg == 0.875 and cnt == 4
    # all sizes 0: every instance is dropped -> nothing valid, average 0
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.5, np.zeros((2, 2)))
    np.testing.assert_array_equal(acc, [-1] * 5)
    assert avg == 0 and cnt == 0
    # instance 0 dropped (size 0): instance 1 is all exact -> 1 for the 4 valid joints
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.5, np.array([[0, 0], [10, 10]]))
    np.testing.assert_array_equal(acc, [1, 1, -1, 1, 1])
    assert avg == 1 and cnt == 4


def mmpose_single_instance_case(third_target):
    """mmpose's AUC / EPE / NME test: one instance, joint 2 masked."""
    pred = np.zeros((1, 5, 2))
    gt = np.zeros((1, 5, 2))
    pred[0, 0], gt[0, 0] = [10, 4], [10, 0]      # 4 px
    pred[0, 1], gt[0, 1] = [10, 18], [10, 10]    # 8 px
    pred[0, 2], gt[0, 2] = [0, 0], third_target  # masked
    pred[0, 3], gt[0, 3] = [40, 40], [30, 30]    # sqrt(200) px
    pred[0, 4], gt[0, 4] = [20, 10], [0, 10]     # 20 px
    return pred, gt, np.array([[True, True, False, True, True]])


def test_mmpose_auc_case():
    pred, gt, mask = mmpose_single_instance_case([0, -1])
    # size 20 -> distances 0.2, 0.4, --, 0.707, 1.0; thresholds 0, .25, .5, .75
    # PCK: 0, 1/4, 2/4, 3/4 -> AUC = 1.5 / 4 = 0.375
    assert keypoint_auc(pred, gt, mask, 20, 4) == pytest.approx(0.375)


def test_mmpose_epe_and_nme_case():
    pred, gt, mask = mmpose_single_instance_case([-1, -1])
    expected = (4 + 8 + np.sqrt(200) + 20) / 4  # = 11.5355339...
    assert keypoint_epe(pred, gt, mask) == pytest.approx(expected, abs=1e-5)
    assert keypoint_epe(pred, gt, mask) == pytest.approx(11.5355339, abs=1e-4)
    nme = keypoint_nme(pred, gt, mask, np.ones((1, 2)))
    assert nme == pytest.approx(11.5355339, abs=1e-4)


# --------------------------------------------------------------------------- fast == reference
def random_case(seed: int, num_instances: int = 60, num_joints: int = 7, dims: int = 2,
                dtype=np.float32, norm_dtype=np.float64):
    """Integer-ish coordinates and sizes so that distances often land exactly on thresholds;
    random masks, all-invalid joints, zero and negative sizes."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 200, (num_instances, num_joints, dims)).astype(dtype)
    offsets = rng.integers(-8, 9, (num_instances, num_joints, dims)) * rng.choice(
        [0.5, 1.0, 1.5], (num_instances, num_joints, 1))
    pred = (gt + offsets).astype(dtype)
    mask = rng.random((num_instances, num_joints)) > 0.25
    if num_joints > 1:
        mask[:, rng.integers(num_joints)] = False  # a joint that is never visible
    sizes = rng.choice([0, -5, 10, 20, 25, 30, 40], (num_instances, 1)).astype(norm_dtype)
    norm = np.repeat(sizes, dims, axis=1)
    norm[rng.random(num_instances) < 0.1, -1] = 0  # zero in one dimension only
    return pred, gt, mask, norm


CASES = [
    dict(seed=0),
    dict(seed=1, dtype=np.float64),
    dict(seed=2, norm_dtype=np.float32),
    dict(seed=3, norm_dtype=np.int64),
    dict(seed=4, num_instances=1),
    dict(seed=5, num_joints=1),
    dict(seed=6, num_instances=1, num_joints=1),
    dict(seed=7, dims=3),
    dict(seed=8, num_instances=500, num_joints=21),
]


@pytest.mark.parametrize('case', CASES, ids=lambda c: '-'.join(f'{k}={getattr(v, "__name__", v)}'
                                                                for k, v in c.items()))
def test_fast_equals_reference(case):
    pred, gt, mask, norm = random_case(**case)
    norm_before = norm.copy()
    np.testing.assert_array_equal(normalized_distances(pred, gt, mask, norm),
                                  ref_distances(pred, gt, mask, norm).T)
    for thr in (0.0, 0.05, 0.1, 0.2, 0.25, 0.35, 0.45, 0.5, 1.0, np.float64(0.35)):
        acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, thr, norm)
        ref_acc, ref_avg, ref_cnt = ref_pck(pred, gt, mask, thr, norm)
        np.testing.assert_array_equal(acc, ref_acc)
        assert avg == ref_avg and cnt == ref_cnt
    for num_thrs in (1, 2, 4, 20, 33):
        assert keypoint_auc(pred, gt, mask, 30, num_thrs) == ref_auc(pred, gt, mask, 30,
                                                                     num_thrs)
        assert keypoint_auc(pred, gt, mask, 7.5, num_thrs) == ref_auc(pred, gt, mask, 7.5,
                                                                      num_thrs)
    assert keypoint_epe(pred, gt, mask) == ref_epe(pred, gt, mask)
    assert keypoint_nme(pred, gt, mask, norm) == ref_nme(pred, gt, mask, norm)
    np.testing.assert_array_equal(norm, norm_before)


def test_multi_threshold_matches_single_threshold_calls():
    pred, gt, mask, norm = random_case(11, num_instances=200, num_joints=9)
    thrs = [0.3, 0.05, float('nan'), 0.3, 0.0, 0.45, 2.0, float('inf'), 0.35, 0.1]  # unsorted
    acc, avg, cnt = multi_threshold_pck(pred, gt, mask, thrs, norm)
    assert acc.shape == (len(thrs), 9) and avg.shape == (len(thrs),)
    for row, thr in enumerate(thrs):
        ref_acc, ref_avg, ref_cnt = ref_pck(pred, gt, mask, thr, norm)
        np.testing.assert_array_equal(acc[row], ref_acc)
        assert avg[row] == ref_avg and cnt == ref_cnt
    thresholds, curve = pck_curve(pred, gt, mask, norm, np.linspace(0, 1, 21))
    np.testing.assert_array_equal(thresholds, np.linspace(0, 1, 21))
    np.testing.assert_array_equal(
        curve, [ref_pck(pred, gt, mask, float(t), norm)[1] for t in thresholds])


def test_pck_from_float64_distances_compares_in_float64():
    """With float64 distances (given directly) a Python-float threshold is compared in
    float64, as numpy would; the vectorised search must widen instead of rounding."""
    distances = np.array([[0.35, 0.1, -1.0], [np.float32(0.35), 0.7, 0.2],
                          [0.34999999, np.nan, -1.0]], dtype=np.float64)
    thrs = auc_thresholds(20)
    acc, avg, cnt = pck_from_distances(distances, thrs)
    for row, thr in enumerate(thrs):
        expected = np.array([ref_joint_accuracy(d, thr) for d in distances.T])
        np.testing.assert_array_equal(acc[row], expected)
    assert cnt == 3


def test_nan_predictions_count_as_wrong_but_valid():
    pred, gt, mask, norm = hand_case()
    pred[1, 0] = np.nan
    acc, _, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.2, norm)
    np.testing.assert_array_equal(acc, ref_pck(pred, gt, mask, 0.2, norm)[0])
    assert acc[0] == 0.5 and cnt == 3
    assert keypoint_auc(pred, gt, mask, 30, 4) == ref_auc(pred, gt, mask, 30, 4)


def test_auc_thresholds_follow_mmpose():
    assert auc_thresholds(4) == [0.0, 0.25, 0.5, 0.75]
    assert len(auc_thresholds(20)) == 20 and auc_thresholds(20)[-1] == 0.95


def test_shape_errors_are_explicit():
    pred, gt, mask, norm = hand_case()
    with pytest.raises(ValueError, match='mask'):
        keypoint_pck_accuracy(pred, gt, mask[:, :2], 0.2, norm)
    with pytest.raises(ValueError, match='norm_factor'):
        keypoint_pck_accuracy(pred, gt, mask, 0.2, norm[:1])
    with pytest.raises(ValueError, match='pred and gt'):
        keypoint_epe(pred, gt[:, :2], mask)
