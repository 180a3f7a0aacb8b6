"""The NSRM paper's PCK: hand-made predictions against hand-computed values, the estimator's
arg-max-cell predictions, and the configs that report it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import poseforge.models  # noqa: F401  (registers the models)
from poseforge.codecs.msra_heatmap import MSRAHeatmap
from poseforge.evaluation.functional import nsrm_pck, tight_box_sides
from poseforge.registry import METRICS, MODELS
from conftest import ROOT
from test_flip_test import PerfectMaps, marked_inputs

THRS = (0.04, 0.06, 0.08, 0.10, 0.12)


def hand_case():
    """Three images of 4 keypoints (the comments give each distance and where it counts).

    Image 0: box 40 x 20 -> side 40, limits 1.6 / 2.4 / 3.2 / 4.0 / 4.8 px.
    Image 1: keypoint 3 unlabelled (and far away: it must not widen the box): side 20, limits
    0.8 / 1.2 / 1.6 / 2.0 / 2.4 px.
    Image 2: nothing labelled: not counted.
    """
    gt = np.array([[[10, 10], [50, 10], [10, 30], [30, 30]],
                   [[0, 0], [20, 0], [0, 10], [999, 999]],
                   [[5, 5], [6, 6], [7, 7], [8, 8]]], np.float64)
    offsets = np.array([[[1, 0],   # 1: every threshold
                         [0, 2],   # 2: from 0.06 (2 < 2.4)
                         [3, 4],   # 5: never (5 > 4.8)
                         [0, 4]],  # 4: only 0.12 (strict: 4 < 4.0 is false)
                        [[1, 0],   # 1: from 0.06 (1 > 0.8)
                         [0, 0],   # 0: every threshold
                         [0, 2],   # 2: only 0.12 (2 < 2.0 is false)
                         [50, 50]],  # unlabelled: ignored
                        [[0, 0]] * 4], np.float64)
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]], bool)
    # per image: [1/4, 2/4, 2/4, 2/4, 3/4] and [1/3, 2/3, 2/3, 2/3, 3/3]
    expected = np.array([(1 / 4 + 1 / 3) / 2, (2 / 4 + 2 / 3) / 2, (2 / 4 + 2 / 3) / 2,
                         (2 / 4 + 2 / 3) / 2, (3 / 4 + 1) / 2])
    return gt + offsets, gt, mask, expected


def test_nsrm_pck_hand_case() -> None:
    pred, gt, mask, expected = hand_case()
    np.testing.assert_allclose(tight_box_sides(gt, mask), [40, 20, 0])
    np.testing.assert_allclose(nsrm_pck(pred, gt, mask, THRS), expected)
    np.testing.assert_allclose(expected, [7 / 24, 7 / 12, 7 / 12, 7 / 12, 7 / 8])
    assert nsrm_pck(pred, gt, np.zeros_like(mask), THRS).tolist() == [0.0] * 5


def test_nsrm_pck_metric_scores_the_grid_keypoints() -> None:
    pred, gt, mask, expected = hand_case()
    metric = METRICS.build(dict(type='NSRMPCKAccuracy'))
    # pred_keypoints (refined) are perfect: the metric must score the arg-max cells instead
    metric.process({}, [dict(pred_keypoints_grid=p.astype(np.float32), pred_keypoints=g,
                             keypoints=g, keypoints_visible=m.astype(np.float32))
                        for p, g, m in zip(pred, gt, mask)])
    values = metric.evaluate(3)
    keys = ['NSRM-PCK@0.04', 'NSRM-PCK@0.06', 'NSRM-PCK@0.08', 'NSRM-PCK@0.1',
            'NSRM-PCK@0.12']
    np.testing.assert_allclose([values[k] for k in keys], expected, rtol=1e-6)
    assert values['NSRM-mPCK'] == pytest.approx(expected.mean())
    with pytest.raises(KeyError, match='pred_keypoints_grid'):
        metric.process({}, [dict(pred_keypoints=gt[0], keypoints=gt[0],
                                 keypoints_visible=mask[0])])


def test_estimator_emits_arg_max_cells_scaled_to_the_image() -> None:
    """``pred_keypoints_grid``: each map's arg-max cell x stride (no sub-pixel step), through
    the crop's affine; ``pred_keypoints`` stay sub-pixel."""
    codec = MSRAHeatmap((64, 64), (8, 8), sigma=1.0)
    keypoints = np.array([[[13.0, 30.5], [41.9, 22.2]]], np.float32)  # cells (1.6, 3.8), ...
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', backbone=PerfectMaps(codec, keypoints, [0, 1]),
        head=dict(type='MultiStageHeatmapHead', decoder=dict(
            type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=1.0)))).eval()
    affine = np.array([[2.0, 0.0, 100.0], [0.0, 2.0, 50.0]])  # crop px -> image px
    with torch.no_grad():
        result = model.predict(marked_inputs(1, 64, 64), dict(meta=[dict(
            input_to_image=affine)]))[0]
    cells = np.array([[2, 4], [5, 3]])  # nearest cells of 13/8, 30.5/8, 41.9/8, 22.2/8
    np.testing.assert_allclose(result['pred_keypoints_grid'], cells * 8 * 2 + [100, 50])
    np.testing.assert_allclose(result['pred_keypoints'], keypoints[0] * 2 + [100, 50],
                               atol=0.05)


@pytest.mark.parametrize('config', [
    'configs/nsrm/nsrm_lpm-g1and6_onehand10k-368.py',
    'configs/nsrm/nsrm_ldm-g1_panoptic-hand-368.py',
    'configs/cpm/cpm_vgg19_onehand10k-368.py',
    'configs/cpm/cpm_vgg19_panoptic-hand-368.py',
])
def test_nsrm_and_matching_cpm_configs_report_the_nsrm_pck(config: str) -> None:
    from poseforge.utils.config import load_config
    cfg = load_config(str(ROOT / config))
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        types = [m['type'] for m in evaluator]
        assert 'NSRMPCKAccuracy' in types and 'PCKAccuracy' in types and 'EPE' in types
        nsrm = next(m for m in evaluator if m['type'] == 'NSRMPCKAccuracy')
        assert tuple(nsrm['thrs']) == THRS
