"""Top-down 3D hand pose estimator: 2D heatmaps + root-relative joint depths -> 3D joints.

One RGB crop in; the backbone's heatmaps give the 2D joints (as in :class:`TopdownPoseEstimator`)
and a :class:`~poseforge.models.heads.relative_depth_head.RelativeDepthHead` regresses each
joint's depth relative to the root, in units of the reference bone
(:mod:`poseforge.codecs.relative_depth`). The 3D joints are rebuilt from the decoded 2D
(mapped to image px, lens distortion removed), ``K^-1`` and the relative depths, with the root
depth and bone length either

* **granted** (``test_cfg['granted'] = 'gt'``, the default): the ground truth's, as the hand3d
  / DGGAN evaluation protocol does; or
* **estimated**: the root depth solved from the 2D and relative depths so that the reference
  bone gets its length (Iqbal et al. 2018), the size from ``test_cfg['bone_length_prior']``
  (mm). This is what a demo without labels runs.

The predict output holds both: ``pred_keypoints_3d`` (granted when the sample has its 3D
ground truth and ``granted='gt'``, estimated otherwise) and ``pred_keypoints_3d_est`` (always
estimated), each with a ``<key>_given`` label (``'gt-root-depth+bone'`` or ``'no-gt'``) that
:class:`~poseforge.evaluation.metrics.keypoint_3d_metrics.Hand3DMetric` puts into its metric
names. A clip model (TASSN) can reuse :meth:`extract`, :meth:`forward_pose`,
:meth:`pose_losses` and :meth:`reconstruct` unchanged.

The depth head needs the backbone's features, which a heatmap backbone does not return: the
estimator reads them with a forward hook on the backbone's submodule ``feature_module``
(``'trunk'`` for CPM), so no backbone code changes.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from poseforge.codecs.relative_depth import (reconstruct_3d, reconstruct_3d_estimated,
                                             undistort_points)
from poseforge.models.estimators.topdown import TopdownPoseEstimator, _build, map_to_image
from poseforge.models.heads.multi_stage_heatmap_head import as_stage_list
from poseforge.models.utils import average_flip_predictions, flip_keypoints
from poseforge.registry import KEYPOINT_CODECS, MODELS

__all__ = ['Topdown3DPoseEstimator', 'GIVEN_GT', 'GIVEN_NONE']

#: ``<pred key>_given`` labels: what a 3D prediction was reconstructed from.
GIVEN_GT = 'gt-root-depth+bone'
GIVEN_NONE = 'no-gt'


@MODELS.register_module()
class Topdown3DPoseEstimator(TopdownPoseEstimator):
    """Backbone + heatmap head + relative-depth head.

    Args:
        backbone, head: as :class:`TopdownPoseEstimator`.
        depth_head: a ``RelativeDepthHead`` config or module.
        depth_codec: the ``RelativeDepth`` codec (root joint, reference bone).
        feature_module: the backbone submodule whose output is the depth head's feature input.
        depth_from_stage: which stage's maps the depth head reads (``-2``: the one before the
            last, as DGGAN's code runs its depth stage beside the last heatmap stage; a
            one-stage backbone uses its only stage).
        test_cfg: ``flip_test``, ``flip_indices``, ``output_heatmaps`` as the 2D estimator, and
            ``granted`` (``'gt'`` or ``'none'``), ``bone_length_prior`` (mm, default 35: a
            typical middle MCP -> PIP), ``root_depth_range`` (mm, the estimated root depth is
            clamped to it; default 100 - 3000), ``default_focal`` (px, used with the box
            centre as principal point when a sample has no ``K``; default 600).
        data_preprocessor, init_cfg: as :class:`TopdownPoseEstimator`.
    """

    def __init__(self, backbone: dict | nn.Module, head: dict | nn.Module,
                 depth_head: dict | nn.Module, depth_codec: dict | Any = None,
                 feature_module: str = 'trunk', depth_from_stage: int = -2,
                 data_preprocessor: dict | nn.Module | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(backbone, head, data_preprocessor=data_preprocessor,
                         test_cfg=test_cfg, init_cfg=init_cfg)
        self.depth_head = _build(depth_head)
        depth_codec = dict(type='RelativeDepth') if depth_codec is None else depth_codec
        self.depth_codec = (KEYPOINT_CODECS.build(depth_codec) if isinstance(depth_codec, dict)
                            else depth_codec)
        self.depth_from_stage = int(depth_from_stage)
        self.test_cfg.setdefault('granted', 'gt')
        if self.test_cfg['granted'] not in ('gt', 'none'):
            raise ValueError(f"test_cfg['granted'] must be 'gt' or 'none', got "
                             f"{self.test_cfg['granted']!r}")
        self.test_cfg.setdefault('bone_length_prior', 35.0)
        self.test_cfg.setdefault('default_focal', 600.0)
        self.test_cfg.setdefault('root_depth_range', (100.0, 3000.0))
        self.feature_module = feature_module
        try:
            module = self.backbone.get_submodule(feature_module)
        except AttributeError:
            raise ValueError(f"Topdown3DPoseEstimator: the backbone has no submodule "
                             f"'{feature_module}' (feature_module) to read features from") from None
        self._features: Tensor | None = None
        module.register_forward_hook(self._keep_features)

    # ------------------------------------------------------------------ network
    def _keep_features(self, module: nn.Module, args: Any, output: Tensor) -> None:
        self._features = output

    def extract(self, inputs: Tensor) -> tuple[list[Tensor], Tensor]:
        """``(stage heatmaps, features)`` of one backbone pass."""
        self._features = None
        stages = as_stage_list(self.backbone(inputs))
        features, self._features = self._features, None
        if features is None:
            raise RuntimeError(f"the backbone never ran its '{self.feature_module}' submodule")
        return stages, features

    def forward_pose(self, inputs: Tensor) -> tuple[list[Tensor], Tensor]:
        """``(stage heatmaps, relative depths (B, K))``, differentiable."""
        stages, features = self.extract(inputs)
        index = self.depth_from_stage if len(stages) > 1 else -1
        maps = stages[index]
        if maps.shape[-2:] != features.shape[-2:]:
            raise ValueError(f'features {tuple(features.shape[-2:])} and maps '
                             f'{tuple(maps.shape[-2:])} differ in size: choose a '
                             'feature_module at the heatmaps\' resolution')
        return stages, self.depth_head(features, maps)

    def pose_losses(self, stages: Sequence[Tensor], depth: Tensor,
                    data_samples: Mapping) -> dict[str, Tensor]:
        """Heatmap losses of every stage + the depth loss (where relative depths are labelled)."""
        if 'heatmaps' not in data_samples:
            raise ValueError("mode='loss' needs data_samples with 'heatmaps' and "
                             "'keypoint_weights'")
        losses = self.head.loss(list(stages), data_samples['heatmaps'],
                                data_samples.get('keypoint_weights'))
        if 'keypoint_depth' not in data_samples:
            raise ValueError("Topdown3DPoseEstimator needs 'keypoint_depth' targets: put "
                             'GenerateDepthTarget in the training pipeline')
        losses.update(self.depth_head.loss(depth, data_samples['keypoint_depth'],
                                           data_samples.get('keypoint_depth_weights')))
        return losses

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples")
            return self.pose_losses(*self.forward_pose(inputs), data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.forward_pose(inputs)
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    # ------------------------------------------------------------------ prediction
    def predict_keypoints_and_depth(self, inputs: Tensor, data_samples: Mapping | None = None
                                    ) -> dict[str, Tensor]:
        """``keypoints`` (B, K, 2) input px, ``scores``, relative ``depth`` (B, K) and the
        last-stage ``heatmaps``; with ``flip_test`` the exact flip test of
        :meth:`TopdownPoseEstimator.predict_keypoints` (decoded coordinates averaged).

        A flip leaves every relative depth unchanged, so the mirrored crop's depths are only
        reordered by the flip indices before averaging.
        """
        stages, depth = self.forward_pose(inputs)
        heatmaps = self.head.predict(stages).float()
        if not self.test_cfg.get('flip_test', False):
            keypoints, scores = self.head.decode(heatmaps)
            return dict(keypoints=keypoints.float(), scores=scores.float(), depth=depth,
                        heatmaps=heatmaps)
        order = list(self._flip_indices(data_samples))
        f_stages, f_depth = self.forward_pose(inputs.flip(-1))
        flipped = self.head.predict(f_stages).float()
        keypoints, scores = self.head.decode(torch.cat([heatmaps, flipped]))
        keypoints, flipped_keypoints = keypoints.float().chunk(2)
        scores, flipped_scores = scores.float().chunk(2)
        keypoints, scores = average_flip_predictions(
            keypoints, scores, flip_keypoints(flipped_keypoints, order, inputs.shape[-1]),
            flipped_scores)
        return dict(keypoints=keypoints, scores=scores, depth=0.5 * (depth + f_depth[:, order]),
                    heatmaps=self._average_flipped_maps(heatmaps, flipped, inputs.shape[-1],
                                                        order))

    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        out = self.predict_keypoints_and_depth(inputs, data_samples)
        heatmaps, depth, scores = out['heatmaps'], out['depth'], out['scores']
        keypoints = out['keypoints'].detach().float().cpu().numpy()
        metas: list[dict] = list((data_samples or {}).get('meta') or [])
        if metas:
            keypoints = map_to_image(keypoints, np.stack(
                [np.asarray(m['input_to_image'], dtype=np.float64) for m in metas]))
        else:
            metas = [{} for _ in range(len(keypoints))]
        depth_np = depth.detach().double().cpu().numpy()
        maps = heatmaps.detach().cpu().numpy() if self.test_cfg.get('output_heatmaps') else None
        scores = scores.detach().float().cpu().numpy()
        results = []
        for i, meta in enumerate(metas):
            result = dict(meta)
            result['pred_keypoints'] = keypoints[i].astype(np.float32)
            result['pred_scores'] = scores[i]
            result['pred_keypoint_depth'] = depth_np[i].astype(np.float32)
            if maps is not None:
                result['pred_heatmaps'] = maps[i]
            result.update(self.reconstruct(keypoints[i], depth_np[i], meta))
            results.append(result)
        return results

    def camera(self, meta: Mapping) -> tuple[np.ndarray, np.ndarray | None]:
        """``(K, dist)`` of a sample; without ``K``, a guess: ``default_focal`` px and the box
        centre as principal point (enough for a demo's root-relative shape)."""
        if meta.get('K') is not None:
            dist = meta.get('dist')
            return (np.asarray(meta['K'], dtype=np.float64),
                    None if dist is None else np.asarray(dist, dtype=np.float64))
        f = float(self.test_cfg['default_focal'])
        x1, y1, x2, y2 = np.asarray(meta.get('bbox', (0, 0, 0, 0)), dtype=np.float64)
        return np.array([[f, 0, 0.5 * (x1 + x2)], [0, f, 0.5 * (y1 + y2)], [0, 0, 1.0]]), None

    def reconstruct(self, keypoints: np.ndarray, relative_depth: np.ndarray,
                    meta: Mapping) -> dict[str, Any]:
        """The 3D outputs of one sample (module docstring) from image-px 2D and depths."""
        K, dist = self.camera(meta)
        uv = undistort_points(keypoints, K, dist)
        prior = float(self.test_cfg['bone_length_prior'])
        estimated = reconstruct_3d_estimated(
            uv, relative_depth, K, prior, self.depth_codec.ref_bone,
            root_range=self.test_cfg['root_depth_range']).astype(np.float32)
        out: dict[str, Any] = dict(pred_keypoints_3d_est=estimated,
                                   pred_keypoints_3d_est_given=GIVEN_NONE)
        truth = meta.get('keypoints_3d')
        if self.test_cfg['granted'] == 'gt' and truth is not None:
            encoded = self.depth_codec.encode(np.asarray(truth))
            out['pred_keypoints_3d'] = reconstruct_3d(
                uv, relative_depth, K, encoded['root_depth'],
                encoded['ref_bone_length']).astype(np.float32)
            out['pred_keypoints_3d_given'] = GIVEN_GT
        else:
            out['pred_keypoints_3d'] = estimated
            out['pred_keypoints_3d_given'] = GIVEN_NONE
        return out
