"""Top-down pose estimator: one person / hand crop in, keypoints in image pixels out."""
from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from poseforge.models.utils import (average_flip_predictions, flip_heatmaps, flip_keypoints,
                                    heatmap_argmax)
from poseforge.models.data_preprocessors.pose_data_preprocessor import build_pose_preprocessor
from poseforge.registry import MODELS


def _build(cfg: dict | nn.Module) -> nn.Module:
    """Build through poseforge's ``MODELS`` (which also sees mmengine's types); pass modules."""
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg


def map_to_image(keypoints: np.ndarray, input_to_image: np.ndarray) -> np.ndarray:
    """Apply each sample's 2x3 affine: ``xy_img = A[:, :2] @ xy + A[:, 2]``.

    Args:
        keypoints: ``(B, K, 2)`` input px.
        input_to_image: ``(B, 2, 3)``.
    Returns:
        ``(B, K, 2)`` image px (float64).
    """
    affine = np.asarray(input_to_image, dtype=np.float64)
    return (np.einsum('bij,bkj->bki', affine[:, :, :2], keypoints.astype(np.float64))
            + affine[:, None, :, 2])


@MODELS.register_module()
class TopdownPoseEstimator(BaseModel):
    """Backbone + heatmap head, driven by mmengine's ``train_step`` / ``val_step``.

    ``forward(inputs, data_samples, mode)``:

    * ``'loss'``: ``head.loss(backbone(inputs), data_samples['heatmaps'],
      data_samples['keypoint_weights'])``, a dict of losses and logging values; heads whose
      ``loss`` takes a ``data_samples`` argument (structure heads that build limb masks or
      kernel targets from keypoint coordinates, rotation losses) also get the whole batch;
    * ``'predict'``: a list with one dict per sample: ``pred_keypoints`` (K, 2) float32 image px,
      ``pred_keypoints_grid`` (K, 2) float32 image px (arg-max cells, no sub-pixel step),
      ``pred_scores`` (K,) float32, and every key of that sample's ``meta`` (the same objects:
      ground truth goes through to the metrics uncopied); ``pred_heatmaps`` (K, h, w) too when
      ``test_cfg['output_heatmaps']``. Without ``meta`` (plain inference) the keypoints stay in
      input px;
    * ``'tensor'``: the backbone's raw output (the list of stage heatmaps for CPM).

    Args:
        backbone / head: configs (``MODELS``) or modules.
        data_preprocessor: config or module; ``None`` = :class:`PoseDataPreprocessor` with
            ImageNet statistics (mmengine's default would feed uint8 images to the network).
        test_cfg: ``flip_test`` (bool; averaged in coordinates, exact, see
            :meth:`predict_keypoints`), ``flip_indices`` (list; else taken from the samples'
            ``meta['flip_indices']``), ``output_heatmaps`` (bool).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, backbone: dict | nn.Module, head: dict | nn.Module,
                 data_preprocessor: dict | nn.Module | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=build_pose_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        self.backbone = _build(backbone)
        self.head = _build(head)
        self.test_cfg = dict(flip_test=False) if test_cfg is None else dict(test_cfg)
        self._head_wants_samples = 'data_samples' in inspect.signature(self.head.loss).parameters
        # Backbones that can be teacher-forced (R-MGMN's true hand angle) see the batch in
        # loss mode only: prediction never sees the ground truth.
        self._backbone_wants_samples = ('data_samples' in
                                        inspect.signature(self.backbone.forward).parameters)

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None or 'heatmaps' not in data_samples:
                raise ValueError("mode='loss' needs data_samples with 'heatmaps' and "
                                 "'keypoint_weights'")
            extra = dict(data_samples=data_samples) if self._head_wants_samples else {}
            feats = (self.backbone(inputs, data_samples=data_samples)
                     if self._backbone_wants_samples else self.backbone(inputs))
            return self.head.loss(feats, data_samples['heatmaps'],
                                  data_samples.get('keypoint_weights'), **extra)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    # ------------------------------------------------------------------ prediction
    def _heatmaps(self, inputs: Tensor) -> Tensor:
        """The head's maps to decode ``(B, K, h, w)`` float32 for one pass of the network."""
        return self.head.predict(self.backbone(inputs)).float()

    def predict_heatmaps(self, inputs: Tensor, data_samples: Mapping | None = None) -> Tensor:
        """Last-stage heatmaps ``(B, K, h, w)`` float32, flip-averaged when ``flip_test``.

        The mirrored pass's maps are mapped back with the sub-cell shift of the codec's
        ``p * w / W`` convention (:func:`flip_heatmaps`, ``shift = 1 - w / W``), so the
        averaged maps peak where the keypoints are; they are for display
        (``output_heatmaps``) and for callers that want maps. :meth:`predict` does not decode
        them: it averages decoded coordinates, which is exact (see there).
        """
        heatmaps = self._heatmaps(inputs)
        if self.test_cfg.get('flip_test', False):
            flipped = self._heatmaps(inputs.flip(-1))
            heatmaps = self._average_flipped_maps(heatmaps, flipped, inputs.shape[-1],
                                                  self._flip_indices(data_samples))
        return heatmaps

    @staticmethod
    def _average_flipped_maps(heatmaps: Tensor, flipped: Tensor, input_width: int,
                              flip_indices: Sequence[int]) -> Tensor:
        shift = 1.0 - heatmaps.shape[-1] / input_width
        return 0.5 * (heatmaps + flip_heatmaps(flipped, flip_indices, shift=shift))

    def _flip_indices(self, data_samples: Mapping | None) -> Sequence[int]:
        if self.test_cfg.get('flip_indices') is not None:
            return self.test_cfg['flip_indices']
        metas = (data_samples or {}).get('meta') or []
        if metas and metas[0].get('flip_indices') is not None:
            return metas[0]['flip_indices']  # one skeleton per batch
        raise ValueError("flip_test needs flip_indices: set test_cfg['flip_indices'] or pack "
                         "'flip_indices' into each sample's meta")

    def predict_keypoints(self, inputs: Tensor, data_samples: Mapping | None = None
                          ) -> dict[str, Tensor]:
        """Keypoints in input px: ``keypoints`` (B, K, 2) decoded by the head's codec,
        ``scores`` (B, K), ``grid_keypoints`` (B, K, 2) (each map's arg-max cell times the
        stride, no sub-pixel refinement: the NSRM paper's protocol, :class:`NSRMPCKAccuracy`)
        and ``heatmaps`` (what :meth:`predict_heatmaps` returns).

        Flip test averages in coordinates: the plain maps and the mirrored input's maps are
        decoded separately by the codec, the mirrored keypoints are mapped back exactly
        (:func:`flip_keypoints`: x -> W - 1 - x, channels reordered by ``flip_indices``) and
        the two are averaged. Averaging the maps instead (mmpose's ``flip_mode='heatmap'``)
        is exact only if the mirrored maps are shifted by ``1 - w / W`` cells, a sub-cell
        resampling that depends on the codec's pixel convention and blurs the peak; averaging
        the decoded points needs neither, so it is exact for every codec and stride that
        decodes a single map exactly. (Where the two passes disagree about a keypoint's mode,
        the average lies between them; heatmap averaging would pick the stronger mode.)
        """
        heatmaps = self._heatmaps(inputs)
        input_size = inputs.shape[-1], inputs.shape[-2]
        stride = heatmaps.new_tensor([input_size[0] / heatmaps.shape[-1],
                                      input_size[1] / heatmaps.shape[-2]])
        if not self.test_cfg.get('flip_test', False):
            keypoints, scores = self.head.decode(heatmaps)
            return dict(keypoints=keypoints.float(), scores=scores.float(),
                        grid_keypoints=heatmap_argmax(heatmaps)[0] * stride, heatmaps=heatmaps)
        flip_indices = self._flip_indices(data_samples)
        flipped = self._heatmaps(inputs.flip(-1))
        keypoints, scores = self.head.decode(torch.cat([heatmaps, flipped]))
        keypoints, flipped_keypoints = keypoints.float().chunk(2)
        scores, flipped_scores = scores.float().chunk(2)
        keypoints, scores = average_flip_predictions(
            keypoints, scores, flip_keypoints(flipped_keypoints, flip_indices, input_size[0]),
            flipped_scores)
        grid, flipped_grid = (heatmap_argmax(torch.cat([heatmaps, flipped]))[0] * stride
                              ).chunk(2)
        grid = 0.5 * (grid + flip_keypoints(flipped_grid, flip_indices, input_size[0]))
        return dict(keypoints=keypoints, scores=scores, grid_keypoints=grid,
                    heatmaps=self._average_flipped_maps(heatmaps, flipped, input_size[0],
                                                        flip_indices))

    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """Keypoints of :meth:`predict_keypoints` mapped to image px with each sample's
        ``meta['input_to_image']``: ``pred_keypoints``, ``pred_keypoints_grid`` (the arg-max
        cell's keypoints), ``pred_scores`` and, with ``output_heatmaps``, ``pred_heatmaps``."""
        out = self.predict_keypoints(inputs, data_samples)
        num = out['keypoints'].shape[0]
        both = torch.cat([out['keypoints'], out['grid_keypoints']]).detach().cpu().numpy()
        scores = out['scores'].detach().float().cpu().numpy()
        metas: list[dict] = list((data_samples or {}).get('meta') or [])
        if metas:
            affines = np.stack([np.asarray(m['input_to_image'], dtype=np.float64)
                                for m in metas])
            both = map_to_image(both, np.concatenate([affines, affines]))
        else:
            metas = [{} for _ in range(num)]
        keypoints, grid = both[:num], both[num:]
        maps = (out['heatmaps'].detach().cpu().numpy() if self.test_cfg.get('output_heatmaps')
                else None)
        results = []
        for i, meta in enumerate(metas):
            result = dict(meta)
            result['pred_keypoints'] = keypoints[i].astype(np.float32)
            result['pred_keypoints_grid'] = grid[i].astype(np.float32)
            result['pred_scores'] = scores[i].astype(np.float32)
            if maps is not None:
                result['pred_heatmaps'] = maps[i]
            results.append(result)
        return results
