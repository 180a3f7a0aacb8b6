"""MpiiPCKh: the official MPII PCKh table on a hand-computed case (errors placed at known
fractions of each head size), ties at the threshold, the pelvis/thorax exclusion, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poseforge.evaluation.functional.pckh import (head_normalized_errors, mpii_pckh_summary,
                                                  pckh_counts)
from poseforge.evaluation.metrics.mpii_pckh import MpiiPCKh
from poseforge.registry import METRICS
from poseforge.skeletons import MPII16

NAMES = list(MPII16.keypoint_names)
# Normalised errors (distance / head size) per joint, in mpii16 order:
# r_ankle r_knee r_hip l_hip l_knee l_ankle pelvis thorax neck head_top
# r_wrist r_elbow r_shoulder l_shoulder l_elbow l_wrist
ERRORS_A = [0.6, 0.3, 0.05, 0.05, 0.3, 5.0, 2.0, 2.0, 0.0, 0.5,
            0.7, 0.2, 0.08, 0.08, 0.2, 0.45]
ERRORS_B = [0.4, 0.9, 0.1, 0.55, 0.02, 0.3, 0.0, 0.0, 0.9, 0.25,
            0.0, 0.05, 0.6, 0.04, 0.51, 0.3]
HEAD_A, HEAD_B = 10.0, 20.0
VISIBLE_A = [1] * 16
VISIBLE_A[5] = 0  # A's left ankle is unlabelled (its huge error must not count)
VISIBLE_B = [1] * 16
VISIBLE_B[10] = 0  # B's right wrist is unlabelled


def _person(errors, head, visible, offset):
    gt = np.stack([np.arange(16) * 7.0 + offset, np.arange(16) * 3.0 + offset], axis=1)
    shift = np.stack([np.array(errors) * head, np.zeros(16)], axis=1)
    if errors[9] == 0.5 and head == 10.0:  # head_top exactly at 0.5: a 3-4-5 offset of 5 px
        shift[9] = (3.0, 4.0)
    if errors[2] == 0.1 and head == 20.0:  # right hip exactly at 0.1: 2 px of 20
        shift[2] = (2.0, 0.0)
    return dict(pred_keypoints=gt + shift, keypoints=gt,
                keypoints_visible=np.array(visible, dtype=np.float32), head_size=head)


def _samples():
    return [_person(ERRORS_A, HEAD_A, VISIBLE_A, 100.0),
            _person(ERRORS_B, HEAD_B, VISIBLE_B, 300.0)]


def test_official_table_on_hand_computed_case():
    metric = MpiiPCKh(thr=0.5, also=(0.1,))
    metric.process({}, _samples())
    result = metric.compute_metrics(metric.results)
    # Per joint at 0.5 (correct / labelled): r_ankle 1/2, r_knee 1/2, r_hip 2/2, l_hip 1/2,
    # l_knee 2/2, l_ankle 1/1, neck 1/2, head_top 2/2 (A's 0.5 is a tie: <= counts it),
    # r_wrist 0/1, r_elbow 2/2, r_shoulder 1/2, l_shoulder 2/2, l_elbow 1/2, l_wrist 2/2.
    expected = {
        'PCKh@0.5': 19 / 26,  # pelvis/thorax left out: 19 correct of 26 labelled joints
        'PCKh@0.5/Head': 1.0,
        'PCKh@0.5/Shoulder': (1.0 + 0.5) / 2,
        'PCKh@0.5/Elbow': (0.5 + 1.0) / 2,
        'PCKh@0.5/Wrist': (1.0 + 0.0) / 2,
        'PCKh@0.5/Hip': (0.5 + 1.0) / 2,
        'PCKh@0.5/Knee': (1.0 + 0.5) / 2,
        'PCKh@0.5/Ankle': (1.0 + 0.5) / 2,
        # at 0.1: r_hip 2 (B's 0.1 is a tie), l_hip 1, l_knee 1, neck 1, r_elbow 1,
        # r_shoulder 1, l_shoulder 2 -> 9 of 26
        'PCKh@0.1': 9 / 26,
    }
    assert list(result) == list(expected)  # main threshold first (save_best='auto')
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_pelvis_and_thorax_do_not_change_the_mean():
    good, bad = _samples(), _samples()
    for sample in bad:
        sample['pred_keypoints'][6:8] += 1000.0  # pelvis and thorax far off
    values = []
    for samples in (good, bad):
        metric = MpiiPCKh()
        metric.process({}, samples)
        values.append(metric.compute_metrics(metric.results)['PCKh@0.5'])
    assert values[0] == values[1]


def test_torch_inputs_and_registry():
    metric = METRICS.build(dict(type='MpiiPCKh', also=()))
    samples = [{k: torch.as_tensor(v) for k, v in s.items()} for s in _samples()]
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['PCKh@0.5'] == pytest.approx(19 / 26) and 'PCKh@0.1' not in result


def test_functions_directly():
    pred = np.array([[[3.0, 4.0], [0.0, 12.0]]])
    gt = np.zeros((1, 2, 2))
    errors = head_normalized_errors(pred, gt, np.array([10.0]))
    np.testing.assert_allclose(errors, [[0.5, 1.2]])
    correct, labelled = pckh_counts(errors, np.array([[1, 1]]), [0.5, 1.2, 0.4])
    assert correct.tolist() == [[1, 0], [1, 1], [0, 0]] and labelled.tolist() == [1, 1]


def test_part_without_labels_uses_the_other_side_or_minus_one():
    correct = np.zeros((1, 16), dtype=np.int64)
    labelled = np.full(16, 4)
    labelled[NAMES.index('left_wrist')] = 0
    labelled[NAMES.index('left_ankle')] = labelled[NAMES.index('right_ankle')] = 0
    correct[0, NAMES.index('right_wrist')] = 3
    table = mpii_pckh_summary(correct, labelled, NAMES)
    assert table['Wrist'][0] == 0.75  # only the right wrist has labels
    assert table['Ankle'][0] == -1.0
    assert table['Mean'][0] == pytest.approx(3 / (4 * 11))  # 11 labelled, non-excluded joints


def test_missing_head_size_explains_where_it_comes_from():
    sample = _samples()[0]
    del sample['head_size']
    with pytest.raises(KeyError, match='headbox_file'):
        MpiiPCKh().process({}, [sample])


def test_bad_head_size_and_layout_are_refused():
    sample = _samples()[0]
    sample['head_size'] = 0.0
    with pytest.raises(ValueError, match='head_size 0.0'):
        MpiiPCKh().process({}, [sample])
    coco_like = dict(pred_keypoints=np.zeros((17, 2)), keypoints=np.zeros((17, 2)),
                     keypoints_visible=np.ones(17), head_size=5.0)
    metric = MpiiPCKh()
    metric.process({}, [coco_like])
    with pytest.raises(ValueError, match='16 MPII joints'):
        metric.compute_metrics(metric.results)
