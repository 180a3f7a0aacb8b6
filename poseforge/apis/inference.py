"""``init_model`` / ``inference_topdown``: poseforge from Python, without a Runner.

Mirrors mmpose's functions of the same names so that user code ports over: the model is built
from the config's ``model`` dict, weights come from a local checkpoint (``weights_only=True``,
strictly: a checkpoint of another model is refused, see
:func:`~poseforge.engine.checkpoint.load_weights`), and the config's test pipeline prepares
each box exactly as evaluation does.
"""
from __future__ import annotations

import copy
import os
import warnings
from typing import Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from poseforge.datasets.collate import pose_collate
from poseforge.engine.checkpoint import load_weights, safe_load
from poseforge.registry import DATASETS, MODELS
from poseforge.skeletons import get_skeleton
from poseforge.utils.config import load_config


def _dataset_meta(cfg: Config, checkpoint: dict | None) -> dict:
    """The dataset metainfo saved with the checkpoint, else the config dataset's skeleton."""
    meta = (checkpoint or {}).get('meta', {}).get('dataset_meta')
    if meta:
        return meta
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or cfg.train_dataloader
    dataset_cls = DATASETS.get(loader['dataset']['type'])
    return get_skeleton(getattr(dataset_cls, 'SKELETON', 'hand21')).metainfo()


def init_model(config: str | os.PathLike | Config, checkpoint: str | None = None,
               device: str = 'cpu', cfg_options: dict | None = None,
               strict: bool = True, backend: str = 'torch') -> torch.nn.Module:
    """Build the config's model, load ``checkpoint`` (a local path) and set eval mode.

    The returned model carries ``model.cfg`` and ``model.dataset_meta`` for
    :func:`inference_topdown`, and ``model.load_report`` (what was loaded).
    ``backend='onnxruntime'`` runs the heatmap network in onnxruntime (:mod:`poseforge.deploy`):
    ``checkpoint`` is then an exported ``.onnx`` file, or a checkpoint whose weights are
    exported in memory on first use.

    Raises:
        CheckpointMismatchError: the checkpoint's weights do not fit the config's model (unless
            ``strict=False``, which loads those that fit and warns about the rest).
        CheckpointReadError, UnsafeCheckpointError, FileNotFoundError: an unusable file.
    """
    cfg = config if isinstance(config, Config) else load_config(os.fspath(config), cfg_options)
    if backend != 'torch':
        from poseforge.deploy import check_backend, onnxruntime_model_cfg
        check_backend(backend)
        onnx_file = os.fspath(checkpoint) if checkpoint and os.fspath(checkpoint).endswith(
            '.onnx') else None
        cfg = copy.deepcopy(cfg)
        cfg.model = onnxruntime_model_cfg(cfg.model, onnx_file)
        checkpoint = None if onnx_file else checkpoint
    init_default_scope(cfg.get('default_scope', 'poseforge'))
    model = MODELS.build(cfg.model)
    ckpt, model.load_report = None, None
    if checkpoint is not None:
        ckpt = safe_load(checkpoint, map_location='cpu')
        report = load_weights(model, ckpt, strict=strict, source=os.fspath(checkpoint))
        if not report.exact:
            warnings.warn(f'init_model: partial load: {report.summary()}', stacklevel=2)
        model.load_report = report
    model.cfg = cfg
    model.dataset_meta = _dataset_meta(cfg, ckpt)
    return model.to(device).eval()


def _test_pipeline(cfg: Config, from_array: bool) -> Compose:
    loader = cfg.get('test_dataloader') or cfg.val_dataloader
    # depth maps and their targets are labels (a 3D config's test pipeline may load them to
    # draw beside the generated ones): inference has none
    steps = [dict(t) for t in loader['dataset']['pipeline']
             if t['type'] not in ('LoadDepth', 'GenerateDepthTarget')]
    if from_array:
        steps = [t for t in steps if t['type'] != 'LoadImage']
    return Compose(steps)


@torch.no_grad()
def inference_topdown(model: torch.nn.Module, image: str | np.ndarray,
                      bboxes: Sequence | np.ndarray | None = None,
                      K: np.ndarray | None = None,
                      dist: np.ndarray | None = None) -> list[dict]:
    """Estimate keypoints for each box in ``image``.

    Args:
        model: from :func:`init_model`.
        image: a path, or an RGB ``uint8`` array (H, W, 3).
        bboxes: (N, 4) ``x1, y1, x2, y2`` boxes in image pixels; ``None`` uses the whole image.
        K, dist: the camera's intrinsics (3, 3) and OpenCV distortion, for 3D models; without
            ``K`` a 3D model assumes its ``test_cfg.default_focal`` and the box centre.

    Returns:
        One dict per box: ``keypoints`` (K, 2) image px, ``keypoint_scores`` (K,), ``bbox``;
        a 3D model (``Topdown3DPoseEstimator``, DGGAN) adds ``keypoints_3d`` (K, 3) mm in the
        camera frame, reconstructed with nothing granted (root depth solved from the 2D and
        the relative depths, size from ``test_cfg.bone_length_prior``), and
        ``keypoint_depth`` (K,) (relative depths in reference-bone units).
    """
    from_array = isinstance(image, np.ndarray)
    if from_array:
        h, w = image.shape[:2]
    else:
        import cv2
        probe = cv2.imread(os.fspath(image), cv2.IMREAD_UNCHANGED)
        if probe is None:
            raise OSError(f"Cannot read image '{image}'")
        h, w = probe.shape[:2]
    boxes = (np.array([[0, 0, w, h]], np.float32) if bboxes is None or len(bboxes) == 0
             else np.asarray(bboxes, np.float32).reshape(-1, 4))
    num_kpts = model.dataset_meta['num_keypoints']
    pipeline = _test_pipeline(model.cfg, from_array)
    samples = []
    for i, box in enumerate(boxes):
        info = dict(bbox=box, bbox_score=1.0, id=i, img_id=0,
                    keypoints=np.zeros((num_kpts, 2), np.float32),
                    keypoints_visible=np.ones(num_kpts, np.float32),
                    flip_indices=model.dataset_meta['flip_indices'])
        if K is not None:
            info['K'] = np.asarray(K, np.float32)
            if dist is not None:
                info['dist'] = np.asarray(dist, np.float32)
        if from_array:
            info.update(img=image, img_shape=(h, w), ori_shape=(h, w), img_path='<array>')
        else:
            info['img_path'] = os.fspath(image)
        samples.append(pipeline(info))
    outputs = model.test_step(pose_collate(samples))
    results = []
    for o, box in zip(outputs, boxes):
        result = dict(keypoints=o['pred_keypoints'], keypoint_scores=o['pred_scores'], bbox=box)
        if 'pred_keypoints_3d' in o:  # no label in the sample: the no-ground-truth reconstruction
            result.update(keypoints_3d=o['pred_keypoints_3d'],
                          keypoint_depth=o['pred_keypoint_depth'])
        results.append(result)
    return results
