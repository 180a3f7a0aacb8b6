"""``PalmClassifier``: does the palm or the back of the hand face the camera? The appearance
half of the hand side (:mod:`poseforge.codecs.hand_side` says why the side is split in two).

Why a separate small network on the pose crop: the cue is fine detail (nails, knuckles, palm
lines, which way the fingers curl), which the detector sees at 20-80 px per hand in its
whole-frame input, and which the pose crop shows at full size. A plain VGG-like stack
(two 3x3 convolutions per resolution, the second strided, BN + ReLU; global average pooling
and one logit) costs 0.07 GMAC per 64x64 crop and 0.17 at 96x96 (the config's), so the demo
classifies the tracked hands' crops every few frames for 3-5 ms (README). Trained on generated hands (any data with keypoints and
a hand side gives the label: ``GeneratePalmTarget``), with mirroring as free augmentation:
facing is unchanged by a mirror, the side is not.

``forward(inputs, data_samples, mode)`` follows the estimators' contract:

* ``'loss'``: binary cross-entropy with ``data_samples['palm_facing']`` (1 palm, 0 back;
  samples at -1, unknown, carry no loss);
* ``'predict'``: one dict per crop: ``pred_palm_prob`` plus the sample's ``meta``;
* ``'tensor'``: the logits ``(B,)``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from poseforge.models.data_preprocessors.pose_data_preprocessor import build_pose_preprocessor
from poseforge.registry import MODELS


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


@MODELS.register_module()
class PalmClassifier(BaseModel):
    """Palm-towards-camera logit of a hand crop (module docstring).

    Args:
        input_size: crop ``(w, h)`` the pipeline's ``TopdownAffine`` makes (the demo crops
            tracked hands to the same size).
        widths: channels per resolution; each level halves the resolution.
        test_cfg: ``flip_test`` (default True): average the probability of the crop and of its
            mirror image, which must agree (a mirror keeps the palm's facing).
        data_preprocessor: config; default ``PoseDataPreprocessor`` (ImageNet statistics).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, input_size: Sequence[int] = (64, 64),
                 widths: Sequence[int] = (32, 64, 96, 128, 160),
                 test_cfg: Mapping[str, Any] | None = None,
                 data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=build_pose_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if len(input_size) != 2 or any(int(v) < 2 ** len(widths) for v in input_size):
            raise ValueError(f'input_size must be (w, h), each at least 2**len(widths) = '
                             f'{2 ** len(widths)}, got {tuple(input_size)!r}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        layers: list[nn.Module] = []
        cin = 3
        for width in widths:
            layers += [conv_bn_relu(cin, width), conv_bn_relu(width, width, stride=2)]
            cin = width
        self.features = nn.Sequential(*layers)
        self.logit = nn.Linear(cin, 1)
        self.test_cfg = dict(flip_test=True)
        self.test_cfg.update(test_cfg or {})

    def network(self, inputs: Tensor) -> Tensor:
        """Crops ``(B, 3, h, w)`` (normalised) -> palm-facing logits ``(B,)``."""
        return self.logit(self.features(inputs).mean((2, 3)))[:, 0]

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None or 'palm_facing' not in data_samples:
                raise ValueError("mode='loss' needs data_samples with 'palm_facing' "
                                 '(GeneratePalmTarget in the training pipeline)')
            return self.loss(self.network(inputs), data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.network(inputs)
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    def loss(self, logits: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """Mean BCE over the samples whose facing is known."""
        target = data_samples['palm_facing'].float().reshape(-1)
        known = (target >= 0).float()
        bce = F.binary_cross_entropy_with_logits(logits.float(), target.clamp_min(0),
                                                 reduction='none')
        return dict(loss_palm=(bce * known).sum() / known.sum().clamp_min(1.0))

    @torch.no_grad()
    def palm_prob(self, inputs: Tensor) -> Tensor:
        """Probability that the palm faces the camera, per normalised crop ``(B,)`` (with
        ``flip_test``, the mean over the crop and its mirror image, one batch)."""
        if not self.test_cfg['flip_test']:
            return torch.sigmoid(self.network(inputs).float())
        both = torch.sigmoid(self.network(torch.cat([inputs, inputs.flip(-1)])).float())
        return both.view(2, -1).mean(0)

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        probs = self.palm_prob(inputs).cpu().numpy()
        metas = list((data_samples or {}).get('meta') or [{} for _ in probs])
        return [dict(meta, pred_palm_prob=float(p)) for p, meta in zip(probs, metas)]
