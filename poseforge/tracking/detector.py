"""Run a trained hand detector on video frames (torch or onnxruntime), boxes in frame px."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from poseforge.datasets.transforms.affine import invert_affine
from poseforge.datasets.transforms.detection import PAD_VALUE, letterbox_matrix
from poseforge.models.detectors.center_hand_detector import map_boxes_to_image


class FrameDetector:
    """Letterbox a frame to the detector's input, run its network, decode boxes to frame px.

    The letterbox is the one evaluation uses (``DetAffine`` without augmentation), so the demo
    sees frames exactly as the box AP was measured.

    Args:
        model: a ``CenterHandDetector`` in eval mode (from ``init_model``).
        backend: ``'torch'`` or ``'onnxruntime'`` (the network exported in memory).
        score_thr: least centre score for a box (the model's ``test_cfg`` is for AP).
        max_det: most boxes per frame.
        fuse: fold BatchNorm into convolutions for the torch backend.
    """

    def __init__(self, model: torch.nn.Module, backend: str = 'torch', score_thr: float = 0.3,
                 max_det: int = 4, fuse: bool = True) -> None:
        self.model = model.eval()
        self.backend = backend
        self.score_thr = float(score_thr)
        self.max_det = int(max_det)
        self.input_size = tuple(model.input_size)
        pre = model.data_preprocessor
        self._mean = pre.mean.reshape(1, 3, 1, 1)
        self._std = pre.std.reshape(1, 3, 1, 1)
        self._canvas = np.zeros((self.input_size[1], self.input_size[0], 3), np.uint8)
        if backend == 'onnxruntime':
            from poseforge.deploy.onnx_export import export_detector_bytes
            from poseforge.deploy.onnxruntime_backend import OrtSession
            self._session = OrtSession(export_detector_bytes(model))
            self._network = None
        else:
            from poseforge.deploy.fuse import fuse_conv_bn
            net = fuse_conv_bn(model) if fuse else model
            self._network = net.to(memory_format=torch.channels_last).network
            self._session = None

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(boxes (N, 4) frame px, scores (N,), left_prob (N,))`` for an RGB uint8 frame."""
        h, w = frame.shape[:2]
        matrix = letterbox_matrix((w, h), self.input_size)
        cv2.warpAffine(frame, matrix, self.input_size, dst=self._canvas,
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=(PAD_VALUE,) * 3)
        x = torch.from_numpy(self._canvas)[None].permute(0, 3, 1, 2)  # NHWC memory
        x = (x.float() - self._mean) / self._std
        if self._session is not None:
            heat, maps = (torch.from_numpy(a) for a in
                          self._session.run_all(x.contiguous().numpy()))
        else:
            heat, maps = self._network(x)
        det = self.model.codec.batch_decode(heat, maps, max_det=self.max_det,
                                            score_thr=self.score_thr,
                                            iou_thr=self.model.test_cfg.get('iou_thr', 0.5))[0]
        boxes = map_boxes_to_image(det['boxes'], invert_affine(matrix))
        return boxes, det['scores'], det['left_prob']
