"""Batched top-down prediction on video frames: every box of a frame in one forward pass.

:func:`poseforge.apis.inference_topdown` runs the config's test pipeline once per box (dicts,
transforms, collation): right for files, too slow for a 60 FPS loop. This predictor does the
same crops with the same maths (``GetBBoxCenterScale`` padding, ``fix_aspect_ratio``,
``get_warp_matrix``, one ``cv2.warpAffine`` per box into a preallocated batch), normalises the
whole batch at once in the model's data preprocessor, runs the heatmap network once (torch or
onnxruntime: the model's :meth:`predict_keypoints`, which decodes with the codec and runs the
exact flip test when it is on) and maps every keypoint to image px with one ``einsum``.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from poseforge.datasets.transforms.affine import fix_aspect_ratio, get_warp_matrix, invert_affine
from poseforge.deploy.onnx_export import model_input_size
from poseforge.models.estimators.topdown import map_to_image


def _test_steps(model: torch.nn.Module) -> list[dict]:
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        return []
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    return [dict(t) for t in loader.get('dataset', {}).get('pipeline', [])]


class TopdownBatchPredictor:
    """Keypoints for N boxes of one image, in one batch (see the module docstring).

    Args:
        model: a top-down estimator from :func:`poseforge.apis.init_model` (either backend);
            its config's test pipeline gives the crop padding and warp convention.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.input_size = model_input_size(model)
        steps = _test_steps(model)
        padding = [s.get('padding', 1.25) for s in steps if s['type'] == 'GetBBoxCenterScale']
        affine = [s for s in steps if s['type'] == 'TopdownAffine']
        self.padding = float(padding[0]) if padding else 1.25
        self.use_udp = bool(affine[0].get('use_udp', False)) if affine else False
        meta = getattr(model, 'dataset_meta', None) or {}
        self._flip_meta = ([dict(flip_indices=meta['flip_indices'])]
                           if 'flip_indices' in meta else [])
        self._batch = np.zeros((0, self.input_size[1], self.input_size[0], 3), np.uint8)

    def crop_matrices(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 2, 3)`` image px -> input px for ``x1, y1, x2, y2`` boxes (the test pipeline's)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        w, h = self.input_size
        mats = np.empty((len(boxes), 2, 3), np.float64)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            scale = fix_aspect_ratio(np.array([(x2 - x1) * self.padding,
                                               (y2 - y1) * self.padding]), w / h)
            mats[i] = get_warp_matrix(((x1 + x2) * 0.5, (y1 + y2) * 0.5), scale, 0.0,
                                      self.input_size, self.use_udp)
        return mats

    def crops(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 crops ``(N, h, w, 3)`` and their ``input_to_image`` ``(N, 2, 3)``."""
        mats = self.crop_matrices(boxes)
        if len(self._batch) < len(mats):
            self._batch = np.zeros((len(mats),) + self._batch.shape[1:], np.uint8)
        batch = self._batch[:len(mats)]
        for i, mat in enumerate(mats):
            cv2.warpAffine(image, mat, self.input_size, dst=batch[i], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return batch, np.stack([invert_affine(m) for m in mats]) if len(mats) else mats

    @torch.no_grad()
    def keypoints(self, crops: np.ndarray) -> dict[str, torch.Tensor]:
        """The model's ``predict_keypoints`` of uint8 crops ``(N, h, w, 3)``: ``keypoints``
        (N, K, 2) input px, ``scores`` (N, K), ``heatmaps`` (N, K, h, w); with the estimator's
        exact flip test when the config turns it on."""
        inputs = torch.from_numpy(crops).permute(0, 3, 1, 2)  # NHWC memory = channels_last
        inputs = self.model.data_preprocessor.normalize(inputs)
        samples = dict(meta=self._flip_meta) if self._flip_meta else None
        return self.model.predict_keypoints(inputs, samples)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, boxes: Sequence | np.ndarray,
                 return_heatmaps: bool = False) -> dict:
        """Predict every box of ``image`` (RGB uint8) at once.

        Returns:
            ``keypoints`` (N, K, 2) image px float32, ``keypoint_scores`` (N, K) float32,
            ``boxes`` (N, 4), and ``heatmaps`` (N, K, h, w) numpy when ``return_heatmaps``.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        num_k = (self.model.dataset_meta or {}).get('num_keypoints', 0)
        if len(boxes) == 0:
            out = dict(keypoints=np.zeros((0, num_k, 2), np.float32),
                       keypoint_scores=np.zeros((0, num_k), np.float32), boxes=boxes)
            if return_heatmaps:
                out['heatmaps'] = None
            return out
        crops, input_to_image = self.crops(image, boxes)
        pred = self.keypoints(crops)
        keypoints = map_to_image(pred['keypoints'].cpu().numpy(),
                                 input_to_image).astype(np.float32)
        out = dict(keypoints=keypoints,
                   keypoint_scores=pred['scores'].cpu().numpy().astype(np.float32), boxes=boxes)
        if return_heatmaps:
            out['heatmaps'] = pred['heatmaps'].cpu().numpy()
        return out
