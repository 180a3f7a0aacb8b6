"""TASSN: 3D hand pose from video clips labelled in 2D only, kept consistent forwards and
backwards in time (temporal-aware self-supervised network; Chen et al., WACV 2021).

What the method fixes (``docs/methods.md``): a temporal model predicts 3D poses of a clip; it is
trained with a 2D reprojection loss on the labelled keypoints plus ``lambda || P_fwd(t) -
P_bwd(t) ||`` between the poses of the clip played forwards and of the reversed clip
re-reversed. The paper's architecture is not public; this is the simplest design that follows
it, with every part a config option:

* **Per-frame encoder**: the 3D estimator of :class:`Topdown3DPoseEstimator` unchanged (CPM
  trunk + multi-stage heatmap head; the relative-depth head's conv stage and hidden layers
  give a per-frame embedding, 512-d). A per-frame 3D checkpoint therefore loads into TASSN
  as is (only the temporal module is new).
* **Temporal module** over the per-frame embeddings ``(B, T, C)``: residual 1-D convolutions
  over time (``TemporalConv``, default: kernel 3, dilations 1 and 2, replicate padding, so a
  frame sees +-3 neighbours) or a GRU (``TemporalGRU``, unidirectional by default: online,
  causal). Its last layer starts at zero, so an untrained temporal module is the identity and
  TASSN starts as the per-frame estimator.
* **3D head per frame**: the depth head's last linear layer on each refined embedding gives
  the root-relative, bone-normalised depths ``d`` (:mod:`poseforge.codecs.relative_depth`);
  with the 2D keypoints, ``K`` and the root depth / reference bone length, they give the 3D
  joints ``P = (z_root + L d) K^-1 [u, v, 1]``. The 2D stays per frame (the heatmaps).

Losses (``loss_weights``; each logged):

* ``loss_kpt``: the heatmap loss of every stage on the labelled frames (``keypoint_weights``
  zero an unlabelled joint or frame).
* ``loss_reproj``: the 3D joints projected back into the crop (``K`` composed with the crop's
  affine) against the 2D labels, mean distance / crop width, weighted by ``keypoint_weights``.
  The 2D of the 3D comes from a soft-argmax of the last heatmaps (``softargmax_beta``), so
  the loss is differentiable. Root depth and bone length are the ground truth's when the
  sample has ``keypoints_3d`` (``train_granted='gt'``: the protocol's granted quantities),
  else the root depth is solved so the reference bone has ``bone_length_prior`` mm. Without
  ``K`` (``projection='weak'``, or ``'auto'`` with a sample lacking ``K``) the pose is built in
  bone units under weak perspective (image scale from the reference bone) and a weak
  perspective camera (scale, translation) is fitted to the labels in closed form.
  Note, measured and by construction: with a 2.5D pose (2D + relative depth) the perspective
  projection of ``P`` returns its own 2D exactly, so this loss is a coordinate loss on the 2D
  (integral-regression style) and carries no depth information. Depth is learnt only from the
  next three losses (and from ``loss_depth`` where 3D labels exist).
* ``loss_consistency``: ``mean_t,k || P_fwd(t) - P_bwd(t) || / L`` (bone units). The per-frame
  encoder sees the same frames either way (and, with BatchNorm in training, the same batch), so
  its outputs are computed once and only the temporal module runs on the reversed sequence;
  that is exactly the model run on the reversed clip, re-reversed. A time-symmetric module
  gives 0; one that reads the direction of time is pushed towards agreeing with itself.
* ``loss_bone``: bone-length prior, ``mean_b | len_b(P) / L - r_b |`` with ``r_b`` each
  limb's length in units of the reference bone (``bone_ratios``; default: the generator's
  average hand, :func:`poseforge.generation.hand_model.default_shape`). With the 2D fixed, a
  bone's length fixes its depth extent up to sign: this is where 2D-only training gets depth.
* ``loss_depth`` (``depth3d`` weight, 0 = 2D only): the depth head's SmoothL1 against the
  relative-depth targets where a frame has them (``keypoint_depth_weights``), so 3D-labelled
  synthetic clips and 2D-only real clips mix in one batch.

The 3D losses (consistency, bone) take the 2D detached: they train the depth and temporal
parts, never pull the 2D away from the labels.

Prediction: per frame as :class:`Topdown3DPoseEstimator` (codec-decoded 2D, granted and
estimated 3D, ``*_given`` labels), flattened to one dict per frame; frames whose
``meta['clip_report']`` is False (seen in an earlier overlapping clip) are left out, so every
frame is evaluated once. Flip test is not supported (a clip model would need the flipped clip).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from poseforge.codecs.relative_depth import (encode_relative_depth, estimate_root_depth,
                                             project_points, reconstruct_3d)
from poseforge.models.estimators.topdown import _build, map_to_image
from poseforge.models.estimators.topdown_3d import Topdown3DPoseEstimator
from poseforge.registry import MODELS
from poseforge.skeletons import HAND21

__all__ = ['TASSN', 'TemporalConv', 'TemporalGRU', 'soft_argmax', 'reprojection_loss',
           'weak_perspective_fit', 'consistency_loss', 'bone_length_loss', 'default_bone_ratios',
           'crop_intrinsics']

DEFAULT_LOSS_WEIGHTS = dict(kpt=1.0, reproj=1.0, consistency=1.0, bone=1.0, depth3d=0.0)


# --------------------------------------------------------------------------- temporal modules
@MODELS.register_module()
class TemporalConv(nn.Module):
    """Residual 1-D convolutions over time: ``x + f(x)`` on ``(B, T, C)``.

    Args:
        channels: C (the per-frame embedding width).
        hidden: width inside the block.
        kernel: temporal kernel (odd: centred, non-causal).
        dilations: one conv per entry; the receptive field is ``1 + (kernel - 1) * sum``.
        padding_mode: ``'replicate'`` (clip ends see repeated frames) or ``'zeros'``.
    """

    def __init__(self, channels: int = 512, hidden: int = 256, kernel: int = 3,
                 dilations: Sequence[int] = (1, 2), padding_mode: str = 'replicate') -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f'TemporalConv: kernel must be odd (centred), got {kernel}')
        layers: list[nn.Module] = []
        width = channels
        for dilation in dilations:
            layers += [nn.Conv1d(width, hidden, kernel, padding=dilation * (kernel - 1) // 2,
                                 dilation=dilation, padding_mode=padding_mode),
                       nn.ReLU(inplace=True)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(width, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.out(self.body(x.transpose(1, 2))).transpose(1, 2)


@MODELS.register_module()
class TemporalGRU(nn.Module):
    """Residual GRU over time: ``x + W gru(x)`` on ``(B, T, C)``; causal unless
    ``bidirectional``."""

    def __init__(self, channels: int = 512, hidden: int = 256, num_layers: int = 1,
                 bidirectional: bool = False) -> None:
        super().__init__()
        self.gru = nn.GRU(channels, hidden, num_layers=num_layers, batch_first=True,
                          bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.out(self.gru(x)[0])


# --------------------------------------------------------------------------- geometry / losses
def soft_argmax(heatmaps: Tensor, beta: float, input_size: Sequence[int]) -> Tensor:
    """``(N, K, h, w)`` heatmaps -> ``(N, K, 2)`` expected location in input px, under
    ``softmax(beta * heatmap)`` (the codec's ``cell * W / w`` convention)."""
    n, k, h, w = heatmaps.shape
    prob = torch.softmax(beta * heatmaps.float().reshape(n, k, -1), dim=-1).reshape(n, k, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device) * (input_size[0] / w)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device) * (input_size[1] / h)
    return torch.stack([(prob.sum(-2) * xs).sum(-1), (prob.sum(-1) * ys).sum(-1)], dim=-1)


def crop_intrinsics(K: Tensor, input_to_image: Tensor) -> Tensor:
    """Intrinsics of the crop: ``A^-1 K`` with ``A`` the 3x3 form of the crop's 2x3
    ``input_to_image`` affine (a camera point projects to crop px with it)."""
    affine = torch.zeros(*input_to_image.shape[:-2], 3, 3, dtype=K.dtype, device=K.device)
    affine[..., :2, :] = input_to_image.to(K.dtype)
    affine[..., 2, 2] = 1.0
    return torch.linalg.solve(affine, K)


def _weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    weights = weights.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1e-6)


def reprojection_loss(points_3d: Tensor, K: Tensor, keypoints: Tensor, weights: Tensor,
                      norm: float = 1.0) -> Tensor:
    """Mean over weighted joints of ``|| project(points_3d, K) - keypoints || / norm``.

    ``points_3d`` (..., J, 3) camera frame, ``K`` (..., 3, 3), ``keypoints`` (..., J, 2) px,
    ``weights`` (..., J)."""
    uv = project_points(points_3d, K)
    return _weighted_mean(torch.linalg.vector_norm(uv - keypoints.to(uv.dtype), dim=-1),
                          weights) / norm


def weak_perspective_fit(points_3d: Tensor, keypoints: Tensor, weights: Tensor
                         ) -> tuple[Tensor, Tensor]:
    """Least-squares weak perspective camera ``uv = s * xy + t`` (scale (...,), translation
    (..., 2)) of ``points_3d`` (..., J, 3) onto ``keypoints`` (..., J, 2) with joint weights."""
    w = weights.to(points_3d.dtype)[..., None]
    total = w.sum(-2).clamp_min(1e-6)
    xy, uv = points_3d[..., :2], keypoints.to(points_3d.dtype)
    xy_mean, uv_mean = (w * xy).sum(-2) / total, (w * uv).sum(-2) / total
    dxy, duv = xy - xy_mean[..., None, :], uv - uv_mean[..., None, :]
    scale = ((w * dxy * duv).sum((-1, -2))
             / (w * dxy * dxy).sum((-1, -2)).clamp_min(1e-9))
    return scale, uv_mean - scale[..., None] * xy_mean


def consistency_loss(forward: Tensor, backward: Tensor, scale: Tensor | None = None) -> Tensor:
    """``mean || forward - backward ||`` over frames and joints (``(..., J, 3)``), each
    distance divided by ``scale`` (...,) when given."""
    dist = torch.linalg.vector_norm(forward - backward, dim=-1)
    if scale is not None:
        dist = dist / scale[..., None]
    return dist.mean()


def bone_length_loss(points_3d: Tensor, limbs: Tensor, ratios: Tensor, unit: Tensor
                     ) -> Tensor:
    """``mean_b | len_b / unit - ratio_b |`` of (..., J, 3) points; ``limbs`` (E, 2) long,
    ``ratios`` (E,), ``unit`` (...) the reference bone length."""
    lengths = torch.linalg.vector_norm(points_3d[..., limbs[:, 1], :]
                                       - points_3d[..., limbs[:, 0], :], dim=-1)
    return (lengths / unit[..., None] - ratios.to(lengths.dtype)).abs().mean()


def default_bone_ratios(limbs: Sequence[Sequence[int]] = HAND21.limbs,
                        ref_bone: Sequence[int] = (9, 10)) -> list[float]:
    """Each limb's length over the reference bone's, on the generator's average hand (straight
    fingers; a bone's length does not depend on the pose)."""
    from poseforge.generation.hand_model import default_shape, forward_kinematics
    joints, _ = forward_kinematics(default_shape(), np.zeros((5, 4)))
    ref = np.linalg.norm(joints[ref_bone[1]] - joints[ref_bone[0]])
    return [float(np.linalg.norm(joints[b] - joints[a]) / ref) for a, b in limbs]


# --------------------------------------------------------------------------- the model
@MODELS.register_module()
class TASSN(Topdown3DPoseEstimator):
    """Per-frame 3D estimator + temporal module, trained on clips (module docstring).

    Args:
        backbone, head, depth_head, depth_codec, feature_module, depth_from_stage, test_cfg,
            init_cfg: as :class:`Topdown3DPoseEstimator`.
        temporal: ``TemporalConv`` (default) / ``TemporalGRU`` config or module, or ``None``
            (no temporal module: the per-frame estimator trained with the same losses).
        loss_weights: ``kpt``, ``reproj``, ``consistency``, ``bone``, ``depth3d`` (0 = 2D only).
        softargmax_beta: sharpness of the soft-argmax that gives the 3D its 2D.
        projection: ``'perspective'`` (needs ``K``), ``'weak'`` or ``'auto'`` (perspective
            when every frame of the batch has ``K``).
        train_granted: ``'gt'`` (root depth and bone length from ``keypoints_3d`` where a
            frame has it) or ``'none'`` (always solved with ``bone_length_prior``).
        bone_ratios: limb length / reference bone, one per limb of ``limbs`` (default:
            :func:`default_bone_ratios`).
        limbs: the skeleton's ``(parent, child)`` pairs (default hand21's).
        data_preprocessor: default ``ClipDataPreprocessor``.
    """

    def __init__(self, backbone: dict | nn.Module, head: dict | nn.Module,
                 depth_head: dict | nn.Module, depth_codec: dict | Any = None,
                 temporal: dict | nn.Module | None = None,
                 loss_weights: dict | None = None, softargmax_beta: float = 50.0,
                 projection: str = 'auto', train_granted: str = 'gt',
                 bone_ratios: Sequence[float] | None = None,
                 limbs: Sequence[Sequence[int]] | None = None,
                 feature_module: str = 'trunk', depth_from_stage: int = -2,
                 data_preprocessor: dict | nn.Module | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClipDataPreprocessor')
        super().__init__(backbone, head, depth_head, depth_codec=depth_codec,
                         feature_module=feature_module, depth_from_stage=depth_from_stage,
                         data_preprocessor=data_preprocessor, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        channels = self._embedding_width()
        if temporal is None:
            self.temporal = nn.Identity()
        else:
            if isinstance(temporal, dict):
                temporal = dict(temporal)
                temporal.setdefault('type', 'TemporalConv')
                temporal.setdefault('channels', channels)
            self.temporal = _build(temporal)
        unknown = set(loss_weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f'TASSN: unknown loss_weights {sorted(unknown)}; expected '
                             f'{sorted(DEFAULT_LOSS_WEIGHTS)}')
        self.loss_weights = dict(DEFAULT_LOSS_WEIGHTS, **(loss_weights or {}))
        if projection not in ('auto', 'perspective', 'weak'):
            raise ValueError(f"TASSN: projection must be 'auto', 'perspective' or 'weak', got "
                             f'{projection!r}')
        if train_granted not in ('gt', 'none'):
            raise ValueError(f"TASSN: train_granted must be 'gt' or 'none', got "
                             f'{train_granted!r}')
        self.projection = projection
        self.train_granted = train_granted
        self.softargmax_beta = float(softargmax_beta)
        limbs = HAND21.limbs if limbs is None else limbs
        ratios = (default_bone_ratios(limbs, self.depth_codec.ref_bone) if bone_ratios is None
                  else list(bone_ratios))
        if len(ratios) != len(limbs):
            raise ValueError(f'TASSN: {len(ratios)} bone_ratios for {len(limbs)} limbs')
        self.register_buffer('limbs', torch.as_tensor(np.asarray(limbs), dtype=torch.long),
                             persistent=False)
        self.register_buffer('bone_ratios', torch.as_tensor(ratios, dtype=torch.float32),
                             persistent=False)

    def _embedding_width(self) -> int:
        last = self.depth_head.mlp[-1]
        if not isinstance(last, nn.Linear):
            raise ValueError('TASSN needs a depth head whose mlp ends in a Linear layer')
        return last.in_features

    # ------------------------------------------------------------------ network
    def embed(self, inputs: Tensor) -> tuple[list[Tensor], Tensor]:
        """Frames ``(N, 3, H, W)`` -> (stage heatmaps, per-frame embeddings ``(N, C)``)."""
        stages, features = self.extract(inputs)
        maps = stages[self.depth_from_stage if len(stages) > 1 else -1]
        out = self.depth_head.stage(torch.cat([features, maps], dim=1))
        return stages, self.depth_head.mlp[:-1](out.flatten(1)).float()

    def temporal_depth(self, embeddings: Tensor, reverse: bool = False) -> Tensor:
        """``(B, T, C)`` embeddings -> ``(B, T, K)`` depths, through the temporal module run
        forwards or (``reverse``) on the reversed sequence, the output re-reversed."""
        if reverse:
            embeddings = embeddings.flip(1)
        depth = self.depth_head.mlp[-1](self.temporal(embeddings))
        return depth.flip(1) if reverse else depth

    def forward_clip(self, inputs: Tensor, backward: bool = False
                     ) -> tuple[list[Tensor], Tensor, Tensor | None]:
        """``(B, T, 3, H, W)`` -> (stage heatmaps of the ``B*T`` frames, forward depths
        ``(B, T, K)``, backward depths or ``None``)."""
        if inputs.dim() != 5:
            raise ValueError(f'TASSN takes clips (B, T, 3, H, W), got shape '
                             f'{tuple(inputs.shape)}: wrap the dataset in ClipDataset')
        b, t = inputs.shape[:2]
        stages, emb = self.embed(inputs.flatten(0, 1))
        emb = emb.reshape(b, t, -1)
        back = self.temporal_depth(emb, reverse=True) if backward else None
        return stages, self.temporal_depth(emb), back

    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples")
            return self.clip_losses(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            stages, depth, _ = self.forward_clip(inputs)
            return stages, depth
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    # ------------------------------------------------------------------ losses
    def _frame_geometry(self, metas: list[list[dict]], device: torch.device
                        ) -> dict[str, Tensor | None]:
        """Per-frame tensors ``(B, T, ...)`` from the metas: crop intrinsics (or None),
        2D labels in crop px, granted root depth and bone length (NaN where not granted)."""
        flat = [m for clip in metas for m in clip]
        b, t = len(metas), len(metas[0])

        def stack(key: str, shape: tuple) -> Tensor:
            return torch.as_tensor(np.stack([np.asarray(m[key], np.float64).reshape(shape)
                                             for m in flat]), device=device
                                   ).reshape(b, t, *shape)
        for key in ('transformed_keypoints', 'input_to_image'):
            if any(m.get(key) is None for m in flat):
                raise ValueError(f"TASSN needs '{key}' in every frame's meta (TopdownAffine and "
                                 'PackPoseInputs in the pipeline)')
        out: dict[str, Tensor | None] = dict(
            keypoints=stack('transformed_keypoints', (-1, 2)))
        has_k = all(m.get('K') is not None for m in flat)
        if self.projection == 'perspective' and not has_k:
            raise ValueError("TASSN: projection='perspective' but a frame has no 'K'; use "
                             "projection='weak' or 'auto'")
        use_k = has_k and self.projection != 'weak'
        out['K'] = (crop_intrinsics(stack('K', (3, 3)), stack('input_to_image', (2, 3)))
                    if use_k else None)
        root = np.full(len(flat), np.nan)
        length = np.full(len(flat), np.nan)
        if self.train_granted == 'gt':
            for i, m in enumerate(flat):
                if m.get('keypoints_3d') is not None:
                    _, z, bone = encode_relative_depth(
                        np.asarray(m['keypoints_3d'], np.float64), self.depth_codec.root_index,
                        self.depth_codec.ref_bone)
                    root[i], length[i] = float(z), float(bone)
        out['root_depth'] = torch.as_tensor(root, device=device).reshape(b, t)
        out['bone_length'] = torch.as_tensor(length, device=device).reshape(b, t)
        return out

    def poses_3d(self, uv: Tensor, depth: Tensor, geometry: Mapping) -> tuple[Tensor, Tensor]:
        """(3D joints (B, T, K, 3), their unit (B, T)) from crop-px 2D and depths.

        Perspective: mm, granted root depth / bone length where known, else the root depth
        solved for ``bone_length_prior``. Weak perspective: bone units, ``xy`` = 2D relative to
        the root over the image length of the reference bone's ``xy`` part."""
        depth = depth.to(uv.dtype)
        a, b = self.depth_codec.ref_bone
        if geometry['K'] is None:
            rel = uv - uv[..., self.depth_codec.root_index:self.depth_codec.root_index + 1, :]
            planar = torch.linalg.vector_norm(uv[..., b, :] - uv[..., a, :], dim=-1)
            dz = (depth[..., b] - depth[..., a]).clamp(-0.95, 0.95)
            scale = (planar / torch.sqrt(1.0 - dz * dz)).clamp_min(1e-3)
            points = torch.cat([rel / scale[..., None, None], depth[..., None]], dim=-1)
            return points, torch.ones_like(scale)
        K = geometry['K']
        prior = float(self.test_cfg['bone_length_prior'])
        length = torch.where(torch.isfinite(geometry['bone_length']), geometry['bone_length'],
                             torch.full_like(geometry['bone_length'], prior))
        solved = estimate_root_depth(uv, depth, K, self.depth_codec.ref_bone) * length
        low, high = self.test_cfg['root_depth_range']
        solved = solved.clamp(float(low), float(high))
        root = torch.where(torch.isfinite(geometry['root_depth']), geometry['root_depth'], solved)
        return reconstruct_3d(uv, depth, K, root, length), length

    def clip_losses(self, inputs: Tensor, data_samples: Mapping) -> dict[str, Tensor]:
        """All losses of a batch of clips (module docstring)."""
        if 'heatmaps' not in data_samples:
            raise ValueError("TASSN's mode='loss' needs data_samples with 'heatmaps' and "
                             "'keypoint_weights' (GenerateTarget in the pipeline)")
        w = self.loss_weights
        b, t = inputs.shape[:2]
        stages, depth, back = self.forward_clip(inputs, backward=w['consistency'] > 0)
        weights = data_samples.get('keypoint_weights')
        heatmaps = data_samples['heatmaps'].flatten(0, 1)
        kw = None if weights is None else weights.flatten(0, 1)
        losses: dict[str, Tensor] = {}
        for key, value in self.head.loss(list(stages), heatmaps, kw).items():
            losses[key] = value * w['kpt'] if key.startswith('loss') else value
        if weights is None:
            weights = torch.ones(depth.shape, device=depth.device)
        geometry = self._frame_geometry(data_samples['meta'], depth.device)
        input_size = inputs.shape[-1], inputs.shape[-2]
        uv = soft_argmax(stages[-1], self.softargmax_beta, input_size).reshape(b, t, -1, 2)
        uv = uv.double()
        points, unit = self.poses_3d(uv, depth, geometry)
        if w['reproj'] > 0:
            if geometry['K'] is not None:
                reproj = reprojection_loss(points, geometry['K'], geometry['keypoints'], weights,
                                           norm=float(input_size[0]))
            else:
                scale, shift = weak_perspective_fit(points, geometry['keypoints'], weights)
                projected = scale[..., None, None] * points[..., :2] + shift[..., None, :]
                reproj = _weighted_mean(torch.linalg.vector_norm(
                    projected - geometry['keypoints'], dim=-1), weights) / float(input_size[0])
            losses['loss_reproj'] = w['reproj'] * reproj.float()
        fixed_uv = uv.detach()
        fwd_points, fwd_unit = self.poses_3d(fixed_uv, depth, geometry)
        if back is not None:
            bwd_points, _ = self.poses_3d(fixed_uv, back, geometry)
            losses['loss_consistency'] = w['consistency'] * consistency_loss(
                fwd_points, bwd_points, fwd_unit).float()
        if w['bone'] > 0:
            losses['loss_bone'] = w['bone'] * bone_length_loss(
                fwd_points, self.limbs, self.bone_ratios, fwd_unit).float()
        if w['depth3d'] > 0:
            if 'keypoint_depth' not in data_samples:
                raise ValueError("TASSN: loss_weights['depth3d'] > 0 needs 'keypoint_depth' "
                                 'targets: put GenerateDepthTarget in the pipeline')
            target = data_samples['keypoint_depth'].flatten(0, 1)
            dw = data_samples.get('keypoint_depth_weights')
            out = self.depth_head.loss(depth.flatten(0, 1), target,
                                       None if dw is None else dw.flatten(0, 1))
            losses['loss_depth'] = w['depth3d'] * out['loss_depth']
            losses['depth_mae'] = out['depth_mae']
        return losses

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict_clip(self, inputs: Tensor) -> dict[str, Tensor]:
        """``(B, T, 3, H, W)`` -> ``keypoints`` (B, T, K, 2) input px, ``scores`` (B, T, K),
        ``depth`` (B, T, K) and last-stage ``heatmaps`` (B*T, K, h, w)."""
        b, t = inputs.shape[:2]
        stages, depth, _ = self.forward_clip(inputs)
        heatmaps = self.head.predict(stages).float()
        keypoints, scores = self.head.decode(heatmaps)
        return dict(keypoints=keypoints.float().reshape(b, t, -1, 2),
                    scores=scores.float().reshape(b, t, -1), depth=depth, heatmaps=heatmaps)

    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        """One dict per reported frame (module docstring), in clip-major, time order."""
        if inputs.dim() == 4:  # single frames: clips of one
            inputs = inputs[:, None]
        b, t = inputs.shape[:2]
        out = self.predict_clip(inputs)
        keypoints = out['keypoints'].cpu().numpy().reshape(b * t, -1, 2)
        metas_nested = (data_samples or {}).get('meta')
        if metas_nested:
            metas = [m for clip in metas_nested for m in
                     (clip if isinstance(clip, (list, tuple)) else [clip])]
            keypoints = map_to_image(keypoints, np.stack(
                [np.asarray(m['input_to_image'], dtype=np.float64) for m in metas]))
        else:
            metas = [{} for _ in range(b * t)]
        depth = out['depth'].double().cpu().numpy().reshape(b * t, -1)
        scores = out['scores'].cpu().numpy().reshape(b * t, -1)
        maps = (out['heatmaps'].cpu().numpy() if self.test_cfg.get('output_heatmaps')
                else None)
        results = []
        for i, meta in enumerate(metas):
            if not meta.get('clip_report', True):
                continue
            result = dict(meta)
            result['pred_keypoints'] = keypoints[i].astype(np.float32)
            result['pred_scores'] = scores[i].astype(np.float32)
            result['pred_keypoint_depth'] = depth[i].astype(np.float32)
            if maps is not None:
                result['pred_heatmaps'] = maps[i]
            result.update(self.reconstruct(keypoints[i], depth[i], meta))
            results.append(result)
        return results

