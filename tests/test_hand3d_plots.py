"""The 3D plots: each view shows the skeleton the way its title says (camera view as the crop,
side view with depth to the right), and depth maps side by side."""
from __future__ import annotations

import numpy as np

from poseforge.visualization.hand3d import depth_panels, skeleton_3d_views


def coloured_columns(panel: np.ndarray) -> tuple[float, float]:
    """Mean column and row of the strongly red pixels (the predicted limb, drawn pure red)."""
    red = (panel[..., 0] > 200) & (panel[..., 1] < 80) & (panel[..., 2] < 80)
    return np.nonzero(red)[1].mean(), np.nonzero(red)[0].mean()


def test_views_are_oriented_as_titled():
    size = 200
    limbs, colours = [(0, 1)], [(255, 0, 0)]
    # joint 1: 60 mm to the right of the root (camera x)
    right = np.array([[0.0, 0.0, 500.0], [60.0, 0.0, 500.0]])
    image = skeleton_3d_views(right, None, limbs, colours, size=size)
    assert image.shape == (size, 2 * size, 3)
    x, _ = coloured_columns(image[:, :size])
    assert x > size / 2 + 10  # camera view: to the right
    # joint 1: 60 mm up in the image (camera -y)
    up = np.array([[0.0, 0.0, 500.0], [0.0, -60.0, 500.0]])
    _, y = coloured_columns(skeleton_3d_views(up, None, limbs, colours, size=size)[:, :size])
    assert y < size / 2 - 10
    # joint 1: 60 mm farther away: invisible in the camera view's plane, right in the side view
    far = np.array([[0.0, 0.0, 500.0], [0.0, 0.0, 560.0]])
    x, _ = coloured_columns(skeleton_3d_views(far, None, limbs, colours, size=size)[:, size:])
    assert x > size / 2 + 10


def test_depth_panels_share_one_scale_and_say_what_is_missing():
    near = np.zeros((16, 16), np.float32)
    far = np.ones((16, 16), np.float32)
    image = depth_panels([near, far, None], ['generated', 'real', 'other'], size=100)
    assert image.shape[1] == 300
    left, middle = image[40:80, 20:80].mean(axis=(0, 1)), image[40:80, 120:180].mean(axis=(0, 1))
    assert np.abs(left - middle).sum() > 100  # 0 and 1 drawn in different colours
    assert (image[:, 200:] > 240).mean() > 0.9  # the missing map's panel is (nearly) blank
