"""``CenterHandDetector``: a light single-class (hand) centre-point detector with a hand side.

Why this design: the demo needs to *find* hands at video rate on a laptop CPU, next to the pose
network, so the detector must cost a few milliseconds per 640x480 frame. An anchor-free
centre-point detector (CenterNet, Zhou et al. 2019) needs no anchors, no per-anchor NMS and no
RoI ops (torchvision is not available here): one heatmap peak per hand plus its size, offset
and, for this task, a left/right logit, all read at the peak (see
:mod:`~poseforge.codecs.center_box`). The network is a MobileNet-style stack of
depthwise-separable blocks (Howard et al. 2017) down to stride 32 with a two-step top-down
feature pyramid (FPN, Lin et al. 2017) back to stride 8, which gives small hands (20-30 px in a
640x480 frame, ~10 px at the 256x192 input) the context of the large receptive field.

``forward(inputs, data_samples, mode)`` follows the estimators' contract:

* ``'loss'``: CenterNet's penalty-reduced focal loss on the centre heatmap (sec. 3, eq. 1,
  ``alpha=2, beta=4``) per centre; L1 on log-size and offset and binary cross-entropy on the
  side (where it is known) over each box's regression region around its centre, weighted by
  its Gaussian (TTFNet's dense regression, :meth:`CenterBoxCodec.encode`) and averaged over
  the weights;
* ``'predict'``: one dict per image: ``pred_boxes`` (N, 4) image px, ``pred_scores`` (N,),
  ``pred_left_prob`` (N,), plus the sample's ``meta`` (ground truth for the metric);
* ``'tensor'``: ``(heatmap_logits (B, 1, H, W), box_maps (B, 5, H, W))`` (what ONNX exports).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from poseforge.codecs.center_box import CenterBoxCodec
from poseforge.models.data_preprocessors.pose_data_preprocessor import build_pose_preprocessor
from poseforge.registry import KEYPOINT_CODECS, MODELS

#: Centre logit bias at initialisation: sigmoid = 0.1 (CenterNet's prior; focal-loss init).
HEATMAP_PRIOR_BIAS = -2.19


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1
                 ) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups,
                                   bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 (with the stride) then pointwise 1x1, each with BN and ReLU."""
    return nn.Sequential(conv_bn_relu(cin, cin, 3, stride, groups=cin),
                         conv_bn_relu(cin, cout, 1))


class LightPyramid(nn.Module):
    """Stem (stride 2), four stages of two separable blocks (strides 4..32), and a top-down
    pyramid adding strides 32 and 16 into stride 8. Returns the stride-8 feature map."""

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 96, 128), neck_channels: int = 64
                 ) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f'widths must give 5 channel counts (stem, strides 4..32), '
                             f'got {widths!r}')
        self.stem = conv_bn_relu(3, widths[0], 3, 2)
        self.stages = nn.ModuleList(
            nn.Sequential(separable(cin, cout, 2), separable(cout, cout))
            for cin, cout in zip(widths[:-1], widths[1:]))
        self.laterals = nn.ModuleList(conv_bn_relu(c, neck_channels, 1) for c in widths[2:])
        self.smooth = separable(neck_channels, neck_channels)

    def forward(self, x: Tensor) -> Tensor:
        feats = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        s8, s16, s32 = (lat(f) for lat, f in zip(self.laterals, feats[1:]))
        top = F.interpolate(s32, size=s16.shape[-2:], mode='nearest') + s16
        top = F.interpolate(top, size=s8.shape[-2:], mode='nearest') + s8
        return self.smooth(top)


def centre_focal_loss(logits: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0
                      ) -> Tensor:
    """CenterNet's focal loss, summed (normalise outside). Positives are cells where the target
    is 1; negatives are down-weighted by ``(1 - target) ** beta`` near a centre. Written with
    log-sigmoids so that confident logits never take ``log(0)``."""
    prob = logits.sigmoid()
    pos = target.eq(1).float()
    pos_loss = F.logsigmoid(logits) * (1 - prob).pow(alpha) * pos
    neg_loss = F.logsigmoid(-logits) * prob.pow(alpha) * (1 - target).pow(beta) * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum())


def map_boxes_to_image(boxes: np.ndarray, input_to_image: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` boxes in input px through a 2x3 affine (corners, then min/max)."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4)
    m = np.asarray(input_to_image, np.float64)
    corners = np.asarray(boxes, np.float64).reshape(-1, 2, 2)
    mapped = corners @ m[:, :2].T + m[:, 2]
    return np.concatenate([mapped.min(1), mapped.max(1)], 1).astype(np.float32)


@MODELS.register_module()
class CenterHandDetector(BaseModel):
    """Single-class hand detector with a hand-side output (module docstring).

    Args:
        codec: the box codec (``CenterBoxCodec``: network input ``(w, h)``, multiples of 32,
            and output stride 8, the pyramid's finest level); the same dict the pipeline's
            ``GenerateBoxTargets`` encodes with.
        widths: stem and stage channels (strides 2, 4, 8, 16, 32).
        neck_channels: channels of the pyramid and heads.
        loss_weights: ``heatmap``, ``size``, ``offset``, ``side``.
        test_cfg: ``max_det`` (peaks per image), ``score_thr``, ``iou_thr`` (decoding).
        data_preprocessor: config; default ``PoseDataPreprocessor`` (ImageNet statistics).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, codec: dict | CenterBoxCodec | None = None,
                 widths: Sequence[int] = (16, 32, 64, 96, 128), neck_channels: int = 64,
                 loss_weights: Mapping[str, float] | None = None,
                 test_cfg: Mapping[str, Any] | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=build_pose_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if codec is None:
            codec = dict(type='CenterBoxCodec', input_size=(256, 192), stride=8)
        if isinstance(codec, dict):
            codec = KEYPOINT_CODECS.build(codec)
        if codec.stride != 8:
            raise ValueError(f'CenterHandDetector predicts at stride 8, got {codec.stride}')
        if any(int(v) % 32 for v in codec.input_size):
            raise ValueError(f'input_size must be multiples of 32, got {codec.input_size!r}')
        self.codec = codec
        self.input_size = codec.input_size
        self.backbone = LightPyramid(widths, neck_channels)
        self.heatmap_head = nn.Sequential(separable(neck_channels, neck_channels),
                                          nn.Conv2d(neck_channels, 1, 1))
        self.box_head = nn.Sequential(separable(neck_channels, neck_channels),
                                      nn.Conv2d(neck_channels, 5, 1))
        nn.init.constant_(self.heatmap_head[-1].bias, HEATMAP_PRIOR_BIAS)
        self.loss_weights = dict(heatmap=1.0, size=1.0, offset=1.0, side=0.5)
        self.loss_weights.update(loss_weights or {})
        self.test_cfg = dict(max_det=10, score_thr=0.3, iou_thr=0.5)
        self.test_cfg.update(test_cfg or {})

    # ------------------------------------------------------------------ network
    def network(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        feats = self.backbone(inputs)
        return self.heatmap_head(feats), self.box_head(feats)

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None or 'heatmap' not in data_samples:
                raise ValueError("mode='loss' needs data_samples with 'heatmap', 'box_target' "
                                 "and 'box_weight' (GenerateBoxTargets)")
            return self.loss(*self.network(inputs), data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.network(inputs)
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    # ------------------------------------------------------------------ training
    def loss(self, heatmap_logits: Tensor, box_maps: Tensor, data_samples: Mapping
             ) -> dict[str, Tensor]:
        """Focal centre loss + L1 size/offset + side BCE, each per centre (module docstring)."""
        target = data_samples['heatmap'].float()
        box_target = data_samples['box_target'].float()
        weight = data_samples['box_weight'].float()
        w = self.loss_weights
        heat = centre_focal_loss(heatmap_logits.float(), target) / target.eq(1).sum().clamp_min(1)
        box_maps = box_maps.float()
        total = weight.sum().clamp_min(1e-6)
        size = (F.l1_loss(box_maps[:, :2], box_target[:, :2], reduction='none') * weight).sum()
        offset = (F.l1_loss(box_maps[:, 2:4], box_target[:, 2:4], reduction='none')
                  * weight).sum()
        side_known = weight[:, 0] * (box_target[:, 4] >= 0).float()
        side = (F.binary_cross_entropy_with_logits(
            box_maps[:, 4], box_target[:, 4].clamp_min(0), reduction='none') * side_known).sum()
        losses = dict(loss_heatmap=w['heatmap'] * heat, loss_size=w['size'] * size / total,
                      loss_offset=w['offset'] * offset / total,
                      loss_side=w['side'] * side / side_known.sum().clamp_min(1e-6))
        return losses

    # ------------------------------------------------------------------ prediction
    def decode(self, heatmap_logits: Tensor, box_maps: Tensor) -> list[dict[str, np.ndarray]]:
        """Network outputs -> boxes in input px (``CenterBoxCodec.batch_decode``)."""
        cfg = self.test_cfg
        return self.codec.batch_decode(heatmap_logits, box_maps, max_det=cfg['max_det'],
                                       score_thr=cfg['score_thr'], iou_thr=cfg['iou_thr'])

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """Boxes per image, mapped to image px with each ``meta['input_to_image']``."""
        decoded = self.decode(*self.network(inputs))
        metas = list((data_samples or {}).get('meta') or [{} for _ in decoded])
        results = []
        for det, meta in zip(decoded, metas):
            result = dict(meta)
            boxes = det['boxes']
            if 'input_to_image' in meta:
                boxes = map_boxes_to_image(boxes, meta['input_to_image'])
            result.update(pred_boxes=boxes, pred_scores=det['scores'],
                          pred_left_prob=det['left_prob'])
            results.append(result)
        return results
