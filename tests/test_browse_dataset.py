"""tools/browse_dataset.py draws pipeline output, with targets when the split makes them."""
from __future__ import annotations

import cv2

from conftest import QUICKSTART_CONFIG

import browse_dataset


def _opts(root):
    return ['--cfg-options'] + [f'{s}_dataloader.dataset.data_root={root}'
                                for s in ('train', 'val', 'test')]


def test_train_split_shows_image_crop_and_targets(tiny_synth, tmp_path):
    paths = browse_dataset.main([QUICKSTART_CONFIG, '--num', '3', '--out', str(tmp_path),
                                 *_opts(tiny_synth)])
    assert len(paths) == 3
    panel = cv2.imread(paths[0])
    # 128 px crop -> three panels side by side: original (scaled to 128 high), crop, heatmaps.
    assert panel.shape[0] == 128 and panel.shape[1] >= 3 * 128 - 1
    crop, heat = panel[:, -256:-128].astype(int), panel[:, -128:].astype(int)
    # The target panel is the crop under a colour map: same scene, clearly different pixels.
    assert abs(heat - crop).mean() > 20


def test_val_split_has_no_target_panel(tiny_synth, tmp_path):
    paths = browse_dataset.main([QUICKSTART_CONFIG, '--split', 'val', '--num', '1', '--out',
                                 str(tmp_path), *_opts(tiny_synth)])
    panel = cv2.imread(paths[0])
    assert panel.shape[0] == 128 and panel.shape[1] < 3 * 128
