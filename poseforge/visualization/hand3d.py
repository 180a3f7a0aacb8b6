"""Plots for 3D hand models: predicted vs true 3D skeletons from two viewpoints, and the
generated depth map beside the real one (``tools/eval.py --vis N`` on a 3D config).

Figures are drawn with matplotlib's Agg canvas directly (no pyplot: no display needed, and the
backend of a process that plots elsewhere is left alone) and returned as RGB uint8 arrays.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ['skeleton_3d_views', 'depth_panels', 'hand3d_row', 'hand3d_grid',
           'draw_hand3d_predictions', 'DEFAULT_VIEWS']

#: The two 3D views, (elevation, azimuth, title) in matplotlib's terms for the axes (x, depth,
#: -y): the camera's own view (x to the right, image y down, as in the crop) and the view from
#: the camera's right (+x), where depth runs to the right and depth errors show as offsets.
DEFAULT_VIEWS: tuple[tuple[float, float, str], ...] = (
    (0.0, -90.0, 'camera view'), (0.0, 0.0, 'side view (farther: right)'))


def _canvas(width_px: int, height_px: int, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _to_array(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _limb_colours(limbs: Sequence[Sequence[int]], colours: Sequence[Sequence[int]] | None):
    if colours is None or len(colours) != len(limbs):
        return [(0.85, 0.2, 0.2)] * len(limbs)
    return [tuple(c / 255.0 for c in colour[:3]) for colour in colours]


def skeleton_3d_views(pred: np.ndarray, gt: np.ndarray | None, limbs: Sequence[Sequence[int]],
                      limb_colours: Sequence[Sequence[int]] | None = None,
                      views: Sequence[tuple[float, float, str]] = DEFAULT_VIEWS,
                      root: int = 0, size: int = 240, title: str | None = None) -> np.ndarray:
    """``(size, size * len(views), 3)`` image: the predicted skeleton (coloured limbs) over the
    true one (black, dashed), both centred on their own root, one panel per view.

    Args:
        pred, gt: ``(K, 3)`` mm, camera frame (x right, y down, z depth) or root-relative;
            ``gt`` may be None.
        limbs: ``(parent, child)`` pairs; ``limb_colours`` RGB 0-255 per limb.
        views: ``(elevation, azimuth, title)`` for axes (x, depth, -y) (:data:`DEFAULT_VIEWS`).
        title: a line under the panels (e.g. what the prediction was given).
    """
    def to_axes(points: np.ndarray) -> np.ndarray:  # (x, y, z) -> (x, z, -y): image up is up
        points = np.asarray(points, dtype=np.float64)
        points = points - points[root]
        return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)

    pred = to_axes(pred)
    gt = None if gt is None else to_axes(gt)
    points = pred if gt is None else np.concatenate([pred, gt])
    half = max(float(np.abs(points).max()), 1.0) * 1.05
    colours = _limb_colours(limbs, limb_colours)
    fig = _canvas(size * len(views), size)
    for i, (elev, azim, name) in enumerate(views):
        ax = fig.add_subplot(1, len(views), i + 1, projection='3d')
        for (a, b), colour in zip(limbs, colours):
            if gt is not None:
                ax.plot(*gt[[a, b]].T, color='k', lw=1.0, ls='--')
            ax.plot(*pred[[a, b]].T, color=colour, lw=2.0)
        ax.scatter(*pred[root:root + 1].T, s=12, color='k')
        ax.set(xlim=(-half, half), ylim=(-half, half), zlim=(-half, half))
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=elev, azim=azim)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        ax.set_title(name, fontsize=7, pad=0)
    if title:
        fig.text(0.5, 0.01, title, ha='center', va='bottom', fontsize=7)
    fig.subplots_adjust(left=0, right=1, bottom=0.05, top=0.93, wspace=0)
    return _to_array(fig)


def depth_panels(maps: Sequence[np.ndarray | None], titles: Sequence[str],
                 size: int = 160) -> np.ndarray:
    """Depth maps (``(h, w)``, the [0, 1] normalised scale, 1 = far) side by side in one
    colour scale, titled; a ``None`` map is drawn as an empty panel saying so."""
    fig = _canvas(size * len(maps), size + 20)
    for i, (depth, title) in enumerate(zip(maps, titles)):
        ax = fig.add_subplot(1, len(maps), i + 1)
        ax.set_axis_off()
        if depth is None:
            ax.text(0.5, 0.5, f'{title}:\nnot available', ha='center', va='center', fontsize=7)
            continue
        ax.imshow(np.asarray(depth, dtype=np.float32), cmap='viridis_r', vmin=0.0, vmax=1.0)
        ax.set_title(title, fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.88, wspace=0.05)
    return _to_array(fig)


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    import cv2
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * height / h)), height),
                      interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)


def hand3d_row(record: Mapping[str, Any], metainfo: Mapping[str, Any],
               crop: np.ndarray | None = None, height: int = 240) -> np.ndarray:
    """One sample: [input crop with its 2D prediction], two 3D views, [generated | real depth]."""
    limbs = metainfo.get('limbs') or []
    panels = []
    if crop is not None:
        from poseforge.visualization.draw import draw_pose
        crop = np.ascontiguousarray(crop)
        keypoints = record.get('pred_keypoints_input')
        if keypoints is not None:
            crop = draw_pose(crop, np.asarray(keypoints), limbs,
                             keypoint_colors=metainfo.get('keypoint_colors'),
                             limb_colors=metainfo.get('limb_colors'), radius=2, thickness=1)
        panels.append(_fit_height(crop, height))
    given = record.get('pred_keypoints_3d_given')
    title = 'prediction (colour) vs truth (dashed)' + (f', given: {given}' if given else '')
    panels.append(skeleton_3d_views(record['pred_keypoints_3d'], record.get('keypoints_3d'),
                                    limbs, metainfo.get('limb_colors'), size=height,
                                    title=title))
    if record.get('pred_depth_map') is not None or record.get('gt_depth_map') is not None:
        depth = depth_panels([record.get('pred_depth_map'), record.get('gt_depth_map')],
                             ['generated depth', 'real depth'], size=height - 20)
        panels.append(_fit_height(depth, height))
    return np.concatenate([_fit_height(p, height) for p in panels], axis=1)


def hand3d_grid(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Stack rows of different widths (right-padded with white)."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
              for r in rows]
    return np.concatenate(padded, axis=0)


def draw_hand3d_predictions(runner: Any, num: int, out_dir: str,
                            filename: str = 'predictions_3d.png') -> str | None:
    """Run the runner's model on the first ``num`` test samples and write the 3D figure.

    Returns the PNG's path, or ``None`` when the model does not predict 3D (``tools/eval.py``
    then keeps only its 2D drawing). A DGGAN model also draws its generated depth beside the
    real one (the real one when the test pipeline loads it).
    """
    import cv2
    import torch
    from mmengine.model import is_model_wrapper

    from poseforge.engine.checkpoint import atomic_write_bytes
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    test_cfg = getattr(model, 'test_cfg', None)
    saved = dict(test_cfg) if isinstance(test_cfg, dict) else None
    if isinstance(test_cfg, dict) and type(model).__name__ == 'DGGAN':
        test_cfg['output_depth'] = True
    metainfo = runner.test_dataloader.dataset.metainfo
    rows: list[np.ndarray] = []
    model.eval()
    try:
        with torch.no_grad():
            for batch in runner.test_dataloader:
                results = model.test_step(batch)
                if not results or 'pred_keypoints_3d' not in results[0]:
                    return None
                crops = batch['inputs'].permute(0, 2, 3, 1).cpu().numpy()
                for crop, record in zip(crops, results):
                    record = dict(record)
                    affine = np.asarray(record['input_to_image'], dtype=np.float64)
                    to_input = np.linalg.inv(np.vstack([affine, [0, 0, 1]]))[:2]
                    record['pred_keypoints_input'] = (np.asarray(record['pred_keypoints'])
                                                      @ to_input[:, :2].T + to_input[:, 2])
                    rows.append(hand3d_row(record, metainfo, crop))
                    if len(rows) >= num:
                        break
                if len(rows) >= num:
                    break
    finally:
        if saved is not None:
            test_cfg.clear()
            test_cfg.update(saved)
    if not rows:
        return None
    grid = hand3d_grid(rows)
    path = osp.join(out_dir, filename)
    ok, buf = cv2.imencode('.png', cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f'could not encode {path}')
    atomic_write_bytes(buf.tobytes(), path)
    return path
