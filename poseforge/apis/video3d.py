"""3D hand pose over a video: a clip model (TASSN) or any top-down 3D model frame by frame.

:func:`video_poses_3d` crops every frame at its box with the model's test pipeline, runs the
model on windows of ``clip_length`` frames (the config's clip length for a clip model, 1 for a
per-frame model; the last window ends on the last frame, each frame is kept once) and returns
per frame the 2D keypoints (image px), scores and the 3D joints (camera frame, mm) the model
reconstructs without ground truth (root depth solved, size from its ``bone_length_prior``).
The camera is the one given, else a pinhole with the model's ``default_focal`` centred on the
frame, the same for every frame, so the 3D trajectory is continuous.

The writers: :func:`draw_frame_3d` (2D skeleton plus an inset side view of the 3D hand),
:func:`trajectory_plot` (x, y, z of chosen joints over time) and :func:`video_json`.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose

from poseforge.datasets.clips import clip_collate, stack_frames
from poseforge.datasets.collate import pose_collate
from poseforge.visualization.draw import draw_pose

__all__ = ['is_3d_model', 'model_clip_length', 'video_poses_3d', 'draw_frame_3d',
           'trajectory_plot', 'video_json', 'default_camera']


def is_3d_model(model: torch.nn.Module) -> bool:
    """Whether ``model`` reconstructs 3D joints (a 3D estimator or a clip model)."""
    return callable(getattr(model, 'reconstruct', None))


def _loader_dataset(cfg: Any) -> dict:
    loader = cfg.get('test_dataloader') or cfg.val_dataloader
    dataset = loader['dataset']
    return dataset


def model_clip_length(model: torch.nn.Module) -> int:
    """The clip length of the model's test loader (a clip model), 1 for per-frame models."""
    if not hasattr(model, 'forward_clip'):
        return 1
    dataset = _loader_dataset(model.cfg)
    return int(dataset.get('clip_length', 8)) if dataset.get('type') == 'ClipDataset' else 8


def _frame_pipeline(cfg: Any) -> Compose:
    dataset = _loader_dataset(cfg)
    while 'pipeline' not in dataset and 'dataset' in dataset:  # wrappers (ClipDataset)
        dataset = dataset['dataset']
    # frames come as arrays; depth maps and their targets are labels a video does not have
    return Compose([dict(t) for t in dataset['pipeline']
                    if t['type'] not in ('LoadImage', 'LoadDepth', 'GenerateDepthTarget')])


def default_camera(model: torch.nn.Module, width: int, height: int,
                   focal: float | None = None) -> np.ndarray:
    """A pinhole ``K`` centred on the frame with ``focal`` px (default: the model's
    ``test_cfg['default_focal']``)."""
    f = float(focal if focal is not None else model.test_cfg.get('default_focal', 600.0))
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0, 0, 1.0]])


def _windows(num: int, length: int) -> list[tuple[int, int]]:
    """``[start, stop)`` windows of ``length`` tiling ``num`` frames, the last ending on the
    last frame (shorter only when the video is)."""
    if num <= length:
        return [(0, num)]
    starts = list(range(0, num - length + 1, length))
    if starts[-1] + length < num:
        starts.append(num - length)
    return [(s, s + length) for s in starts]


@torch.no_grad()
def video_poses_3d(model: torch.nn.Module, frames: Sequence[np.ndarray],
                   boxes: Sequence[np.ndarray], K: np.ndarray | None = None,
                   clip_length: int | None = None) -> list[dict]:
    """Per frame ``dict(frame, box, keypoints (K, 2), keypoint_scores (K,), keypoints_3d
    (K, 3) mm, relative_depth (K,))`` for RGB ``frames`` and one box each (module docstring).
    """
    if len(frames) != len(boxes):
        raise ValueError(f'{len(frames)} frames but {len(boxes)} boxes')
    if not frames:
        return []
    h, w = frames[0].shape[:2]
    K = default_camera(model, w, h) if K is None else np.asarray(K, np.float64)
    length = model_clip_length(model) if clip_length is None else int(clip_length)
    pipeline = _frame_pipeline(model.cfg)
    meta = model.dataset_meta
    num_kpts = meta['num_keypoints']
    clip_model = hasattr(model, 'forward_clip')
    records: list[dict | None] = [None] * len(frames)
    for start, stop in _windows(len(frames), length):
        samples = []
        for i in range(start, stop):
            info = dict(img=frames[i], img_shape=(h, w), ori_shape=(h, w), img_path='<video>',
                        bbox=np.asarray(boxes[i], np.float32), bbox_score=1.0, id=i, img_id=i,
                        keypoints=np.zeros((num_kpts, 2), np.float32),
                        keypoints_visible=np.ones(num_kpts, np.float32),
                        flip_indices=meta['flip_indices'], K=K.astype(np.float32),
                        frame_id=i)
            samples.append(pipeline(info))
        if clip_model:
            batch = clip_collate([stack_frames(samples)])
        else:
            batch = pose_collate(samples)
        for out in model.test_step(batch):
            i = int(out['frame_id'])
            if records[i] is not None:
                continue
            records[i] = dict(frame=i, box=np.asarray(boxes[i], np.float64),
                              keypoints=np.asarray(out['pred_keypoints'], np.float64),
                              keypoint_scores=np.asarray(out['pred_scores'], np.float64),
                              keypoints_3d=np.asarray(out['pred_keypoints_3d_est'], np.float64),
                              relative_depth=np.asarray(out['pred_keypoint_depth'],
                                                        np.float64))
    missing = [i for i, r in enumerate(records) if r is None]
    if missing:
        raise RuntimeError(f'video_poses_3d: no prediction for frames {missing[:5]}')
    return records  # type: ignore[return-value]


def _side_view(points: np.ndarray, limbs: Sequence[Sequence[int]], size: int,
               colours: Sequence | None) -> np.ndarray:
    """A ``size`` px square: the root-relative hand seen from the side (depth z to the right,
    image y down), 200 mm across."""
    canvas = np.full((size, size, 3), 40, np.uint8)
    rel = points - points[0]
    scale = size / 200.0
    uv = np.stack([size / 2 + rel[:, 2] * scale, size / 2 + rel[:, 1] * scale], -1)
    out = draw_pose(canvas, uv, limbs, None, None, colours, radius=2, thickness=1)
    cv2.putText(out, 'side (z ->)', (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def draw_frame_3d(frame: np.ndarray, record: dict, meta: dict, score_thr: float = 0.2,
                  inset: int = 120) -> np.ndarray:
    """The RGB frame with the box, the 2D skeleton, the root depth and a side-view inset."""
    out = draw_pose(frame, record['keypoints'], meta['limbs'],
                    record['keypoint_scores'] > score_thr, meta.get('keypoint_colors'),
                    meta.get('limb_colors'), bbox=record['box'])
    side = _side_view(record['keypoints_3d'], meta['limbs'], min(inset, *out.shape[:2]),
                      meta.get('limb_colors'))
    out[:side.shape[0], out.shape[1] - side.shape[1]:] = side
    z = record['keypoints_3d'][0, 2]
    cv2.putText(out, f"frame {record['frame']}  root z {z:.0f} mm", (6, out.shape[0] - 8),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def trajectory_plot(records: Sequence[dict], joints: Sequence[int], names: Sequence[str],
                    path: str, fps: float | None = None) -> None:
    """x, y, z (camera frame, mm) of ``joints`` over the frames, one panel per axis (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    track = np.stack([r['keypoints_3d'] for r in records])
    t = np.array([r['frame'] for r in records], np.float64)
    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True)
    for axis, label in enumerate('xyz'):
        for j in joints:
            axes[axis].plot(t, track[:, j, axis], label=names[j] if j < len(names) else str(j))
        axes[axis].set_ylabel(f'{label} (mm)')
        axes[axis].grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=min(len(joints), 4))
    axes[0].set_title('3D trajectory (camera frame)')
    axes[-1].set_xlabel('frame' + (f' ({fps:g} fps)' if fps else ''))
    fig.tight_layout()
    from poseforge.visualization.plots import save_figure
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def video_json(records: Sequence[dict], K: np.ndarray, names: Sequence[str], fps: float,
               path: str, model_name: str) -> None:
    """Per-frame 2D (px) and 3D (camera frame, mm) keypoints with the camera, as JSON."""
    def rounded(a, d):
        return np.round(np.asarray(a, np.float64), d).tolist()
    doc = dict(model=model_name, fps=fps, camera_K=rounded(K, 3), keypoint_names=list(names),
               units=dict(keypoints='image px', keypoints_3d='mm, camera frame'),
               frames=[dict(frame=r['frame'], box=rounded(r['box'], 1),
                            keypoints=rounded(r['keypoints'], 2),
                            keypoint_scores=rounded(r['keypoint_scores'], 3),
                            keypoints_3d=rounded(r['keypoints_3d'], 2)) for r in records])
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(doc, f)
