"""Plots and drawings produce images that show what they claim."""
from __future__ import annotations

import cv2
import numpy as np

from poseforge.skeletons import HAND21
from poseforge.visualization import draw_pose, plot_curves, prediction_grid
from poseforge.visualization.plots import split_fraction_metrics


def test_metrics_are_split_by_scale():
    fractions, others = split_fraction_metrics(
        {'step': [1, 2], 'PCK@0.2': [0.5, 0.7], 'AUC': [0.3, 0.4], 'EPE': [20.0, 10.0]})
    assert set(fractions) == {'PCK@0.2', 'AUC'} and set(others) == {'EPE'}


def test_curve_plot_is_written(tmp_path):
    history = {'train': {'iter': [1, 10, 20], 'loss': [1.0, 0.5, 0.2]},
               'val': {'step': [10, 20], 'PCK@0.2': [0.4, 0.8], 'EPE': [12.0, 6.0]}}
    path = plot_curves(history, tmp_path / 'curves.png', title='t')
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 200 and img.std() > 5


def test_draw_pose_colours_limbs_and_skips_invisible():
    img = np.zeros((64, 64, 3), np.uint8)
    kpts = np.zeros((21, 2), np.float32)
    kpts[0], kpts[1] = (10, 10), (50, 10)  # wrist -> thumb1 limb, horizontal
    visible = np.zeros(21)
    visible[[0, 1]] = 1
    meta = HAND21.metainfo()
    out = draw_pose(img, kpts, meta['limbs'], visible, meta['keypoint_colors'],
                    meta['limb_colors'])
    assert img.sum() == 0  # the input is untouched
    assert tuple(out[10, 30]) == tuple(meta['limb_colors'][0])  # the limb's own colour
    assert out[40:, :].sum() == 0  # nothing drawn for the invisible keypoints at (0, 0)...
    assert out[0:3, 0:3].sum() == 0  # ...including at their coordinates


def test_prediction_grid_tiles_every_prediction():
    img = np.full((100, 120, 3), 80, np.uint8)
    pred = {'pred_keypoints': np.random.rand(21, 2) * 50 + 25, 'bbox': np.array([20, 20, 80, 80])}
    grid = prediction_grid([img] * 5, [pred] * 5, HAND21.metainfo(), tile=64, cols=4)
    assert grid.shape == (128, 256, 3)
    assert grid[64:, 64:].sum() == 0  # the padding tiles of the second row stay black
