"""``GenerateTarget``: encode ``transformed_keypoints`` into training targets with a codec.

As mmpose's ``GenerateTarget`` (``common_transforms.py``) for single-instance top-down data:
the codec (``KEYPOINT_CODECS``) decides the target; for ``MSRAHeatmap`` that is ``heatmaps``
(K, H, W) float32 and ``keypoint_weights`` (K,) float32, 0 for unlabelled keypoints and for
those whose Gaussian cannot reach the heatmap.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.registry import KEYPOINT_CODECS, TRANSFORMS


def build_codec(cfg: dict | Any) -> Any:
    """A codec from its config (``dict(type='MSRAHeatmap', ...)``), or the codec itself."""
    return KEYPOINT_CODECS.build(cfg) if isinstance(cfg, dict) else cfg


@TRANSFORMS.register_module()
class GenerateTarget(BaseTransform):
    """Write the codec's targets (``heatmaps``, ``keypoint_weights``) into ``results``.

    Args:
        encoder: codec config or instance. Its ``input_size`` must equal ``TopdownAffine``'s,
            checked per sample (a mismatch is a config error and raises ``RuntimeError``,
            which the dataset does not swallow).
    """

    def __init__(self, encoder: dict | Any) -> None:
        self.encoder = encoder
        self.codec = build_codec(encoder)

    def transform(self, results: dict) -> dict:
        if 'transformed_keypoints' not in results:
            raise KeyError("GenerateTarget needs 'transformed_keypoints': put TopdownAffine "
                           'before it')
        input_size = results.get('input_size')
        codec_size = getattr(self.codec, 'input_size', None)
        if input_size is not None and codec_size is not None and input_size != codec_size \
                and tuple(input_size) != tuple(codec_size):
            raise RuntimeError(f'GenerateTarget: codec input_size {tuple(codec_size)} differs '
                               f'from TopdownAffine input_size {tuple(input_size)}')
        keypoints = results['transformed_keypoints']
        visible = results.get('keypoints_visible')
        if visible is None:
            visible = np.ones(np.shape(keypoints)[:-1], dtype=np.float32)
        results.update(self.codec.encode(keypoints, visible))
        return results
