"""R-MGMN: Rotation-invariant Mixed Graphical Model Network (AGMN + rotation + model pool).

Follows AGMN (``deyingk/agmn``, ``models/adaptive_graphical__model_network.py``) for the two
branches and the inference, and adds what R-MGMN describes (``docs/methods.md``):

* **Rotation net** (:class:`RotationNet`): a small CNN on stride-8 features of the *input* crop
  regresses the in-plane hand angle as a unit ``(cos, sin)``. The crop is rotated upright
  (:func:`~poseforge.models.rmgmn.geometry.rotate_maps`, ``affine_grid`` / ``grid_sample``) before both branches, and every map
  is rotated back to the crop's frame afterwards, so the losses and the decoding see ordinary
  heatmaps. ``forward(x, angle=...)`` uses a given angle instead (tests, inference with a
  known angle); ``teacher_forcing=True`` uses the ground truth's angle in training (from the
  batch's exact keypoints, :func:`~poseforge.models.ground_truth.batch_keypoints`, which the
  estimator passes to the backbone in loss mode).
  The angle used for the rotation is detached from the rotation net by default
  (``detach_angle``): the net learns from its own angle loss only, not through the resampling.
* **Unary branch**: a :class:`~poseforge.models.backbones.CPM` producing the K keypoint maps
  at every stage (six stages in the VGG19 variant).
* **Pairwise branch** (:class:`PairwiseBranch`): a second CPM-like net whose stages regress,
  for every model of the pool and every directed edge of the kinematic tree, one spatial map
  that is resized to ``kernel_size x kernel_size`` and used as the edge's kernel (AGMN: 40
  kernels of 45x45 at the 46 grid). Like AGMN's, its stages t >= 2 also see the unary maps
  of stage t - 1.
* **Pool of graphical models**: ``num_models`` kernel sets on the same tree; each gives
  marginals by sum-product BP (:func:`~poseforge.models.rmgmn.belief_propagation.tree_belief_propagation`, all
  models and samples in one call), mixed with image-conditioned weights: softmax over the pool
  of a linear layer on the pairwise trunk's pooled features (initialised to zero: uniform
  weights). How the members differ is not published; here each member's kernel targets have
  their own Gaussian width (``RMGMNHead(kernel_sigmas=...)``): tight and loose spatial priors.

Unpublished details, chosen simply and made options: pool size (3), the rotation net (the
quick-start light trunk + two strided convs, global pooling, a linear layer initialised to
the upright angle), the kernel size (45 for the 46 grid, smaller for the light variant), and
the angle definition (:func:`~poseforge.models.rmgmn.geometry.hand_angle`: wrist -> middle
finger root, ``angle_joints``).

Inference follows AGMN: the last unary stage clamped at 0 and the last pairwise stage's kernels
clamped at 0 are the potentials (module docstring of ``belief_propagation`` for the kernel
convention; kernels are regressed per directed edge, independently, as in AGMN).

The rotation centre and the angle convention: :mod:`poseforge.models.rmgmn.geometry`.

Staged training (AGMN: unary 100 epochs, pairwise 100 epochs with the unary branch frozen,
joint fine-tune 10 epochs at a tenth of the LR) is ``train_stage``:

* ``'unary'``: the unary branch and the rotation net train; the pairwise branch and the mixer
  are frozen and not even run (predictions come from the unary maps);
* ``'pairwise'``: the pairwise branch and the mixer train; the unary branch and the rotation
  net are frozen (``requires_grad=False``, kept in eval mode so BatchNorm statistics stay);
* ``'joint'`` or ``None``: everything trains.

:meth:`RMGMN.forward` returns a dict (see there) for :class:`~poseforge.models.rmgmn.head.RMGMNHead`.
"""
from __future__ import annotations

from os import PathLike
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from poseforge.models.backbones.cpm import (ARCH_SETTINGS, CPM, CPMArch, RefinementStage,
                                            TrunkLayer, build_trunk)
from poseforge.models.ground_truth import batch_keypoints
from poseforge.models.rmgmn.belief_propagation import tree_belief_propagation, tree_schedule
from poseforge.models.rmgmn.geometry import (DEFAULT_ANGLE_JOINTS, as_cos_sin, hand_angle,
                                             heatmap_centre, rotate_maps)
from poseforge.registry import MODELS
from poseforge.skeletons import get_skeleton

TRAIN_STAGES = (None, 'unary', 'pairwise', 'joint')


# --------------------------------------------------------------------------- sub-networks
class RotationNet(nn.Module):
    """Small CNN regressing the hand angle as a unit ``(cos, sin)``.

    ``trunk`` layers (stride-8 features; default: the quick-start ``light_s8`` trunk), then two
    stride-2 3x3 convs of ``channels``, global average pooling and a linear layer to 2 numbers,
    normalised. The linear layer starts at weight 0 and bias ``(1, 0)``: upright, i.e. no
    rotation, until the net has learnt something.
    """

    def __init__(self, trunk: Sequence[TrunkLayer] | None = None, in_channels: int = 3,
                 channels: int = 64, norm: bool = True) -> None:
        super().__init__()
        layers = list(ARCH_SETTINGS['light_s8'].trunk if trunk is None else
                      [tuple(x) if isinstance(x, list) else x for x in trunk])
        self.features, feat_channels, self.stride = build_trunk(
            layers + [(channels, 2), (channels, 2)], in_channels, norm)
        self.fc = nn.Linear(channels, 2)
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([1.0, 0.0]))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.features(x).float().mean(dim=(2, 3))
        return F.normalize(self.fc(pooled), dim=1, eps=1e-6)


class PairwiseBranch(CPM):
    """AGMN's pairwise branch: a CPM whose ``num_kernels`` output maps are edge kernels.

    Stages t >= 2 see ``cat[features, kernel maps of stage t-1, unary maps of stage t-1]``.
    ``pretrained`` loads torchvision VGG19 weights into the trunk, as for the CPM.
    """

    def __init__(self, num_kernels: int, num_unary: int, arch: str | CPMArch | dict = 'vgg19',
                 in_channels: int = 3, num_stages: int | None = None,
                 stage_channels: int | None = None,
                 pretrained: str | PathLike | None = None) -> None:
        super().__init__(arch=arch, num_keypoints=num_kernels, in_channels=in_channels,
                         num_stages=num_stages, stage_channels=stage_channels)
        for t in range(1, len(self.stages)):
            self.stages[t] = RefinementStage(
                self.feat_channels + num_kernels + num_unary, self.arch.stage_channels,
                num_kernels, self.arch.stage_kernel, self.arch.stage_dilations,
                self.arch.stage_norm)
        self._init_weights()
        if pretrained is not None:
            if not self.arch.torchvision_vgg19 or in_channels != 3:
                raise ValueError('PairwiseBranch pretrained= loads torchvision VGG19 weights: '
                                 "it needs arch='vgg19' and in_channels=3")
            self.load_vgg19(pretrained)

    def forward(self, x: Tensor, unary_stages: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """-> ``(trunk features, [kernel maps (B, num_kernels, h, w) per stage])``."""
        features = self.trunk(x)
        maps = self.stages[0](features)
        outputs = [maps]
        for t, stage in enumerate(self.stages[1:], start=1):
            unary = unary_stages[min(t - 1, len(unary_stages) - 1)]
            maps = stage(torch.cat([features, maps, unary.to(features.dtype)], dim=1))
            outputs.append(maps)
        return features, outputs


# --------------------------------------------------------------------------- the model
@MODELS.register_module()
class RMGMN(nn.Module):
    """R-MGMN backbone (module docstring).

    Args:
        unary: :class:`~poseforge.models.backbones.CPM` arguments of the unary branch
            (``arch``, ``num_stages``, ``stage_channels``, ``pretrained``, ``in_channels``).
        pairwise: :class:`PairwiseBranch` arguments (same keys); ``None`` = as ``unary``
            (without ``pretrained``).
        num_keypoints: K.
        skeleton / limbs: the tree (``limbs`` overrides the skeleton's); root for BP: ``root``.
        kernel_size: odd side of the edge kernels.
        num_models: size of the pool of graphical models.
        use_rotation: rotate the crop upright (R-MGMN); ``False`` = AGMN with a model pool.
        rotation: :class:`RotationNet` arguments (``trunk``, ``channels``, ``norm``).
        angle_joints: the two joints whose direction defines the hand angle.
        detach_angle: rotate by the detached predicted angle (the rotation net learns only
            from its own loss).
        teacher_forcing: in training, rotate by the true angle, measured on the batch's
            exact keypoints (``data_samples['meta']``, which the estimator passes to the
            backbone in loss mode); samples without both angle joints fall back to the
            prediction.
        train_stage: ``'unary'``, ``'pairwise'``, ``'joint'`` or ``None`` (module docstring).

    Attributes:
        stride, edges (directed ``(sender, receiver)``, the kernel channel order),
        num_edges, kernel_size, num_models.
    """

    def __init__(self, unary: dict | None = None, pairwise: dict | None = None,
                 num_keypoints: int = 21, skeleton: str = 'hand21',
                 limbs: Sequence[Sequence[int]] | None = None, root: int = 0,
                 kernel_size: int = 45, num_models: int = 3, use_rotation: bool = True,
                 rotation: dict | None = None,
                 angle_joints: Sequence[int] = DEFAULT_ANGLE_JOINTS, detach_angle: bool = True,
                 teacher_forcing: bool = False, train_stage: str | None = None) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f'RMGMN kernel_size must be a positive odd number, got '
                             f'{kernel_size}')
        if num_models < 1:
            raise ValueError(f'RMGMN needs at least one graphical model, got {num_models}')
        unary = dict(arch='vgg19') if unary is None else dict(unary)
        pairwise = ({k: v for k, v in unary.items() if k != 'pretrained'} if pairwise is None
                    else dict(pairwise))
        limbs = get_skeleton(skeleton).limbs if limbs is None else limbs
        self.schedule = tree_schedule(limbs, num_nodes=num_keypoints, root=root)
        self.edges = self.schedule.edges
        self.num_edges = self.schedule.num_edges
        self.num_keypoints = num_keypoints
        self.kernel_size = kernel_size
        self.num_models = num_models
        self.angle_joints = tuple(angle_joints)
        self.detach_angle = detach_angle
        self.teacher_forcing = teacher_forcing
        if teacher_forcing and not use_rotation:
            raise ValueError('RMGMN(teacher_forcing=True) needs use_rotation=True')

        self.unary = CPM(num_keypoints=num_keypoints, **unary)
        self.pairwise = PairwiseBranch(num_models * self.num_edges, num_keypoints, **pairwise)
        if self.pairwise.stride != self.unary.stride:
            raise ValueError(f'RMGMN branches must share the stride: unary '
                             f'{self.unary.stride}, pairwise {self.pairwise.stride}')
        self.mixer = nn.Linear(self.pairwise.feat_channels, num_models)
        nn.init.zeros_(self.mixer.weight)
        nn.init.zeros_(self.mixer.bias)
        self.rotation_net = RotationNet(**(rotation or {})) if use_rotation else None
        self.stride = self.unary.stride
        self.train_stage = None
        self.set_train_stage(train_stage)

    # ------------------------------------------------------------------ staged training
    def _stage_parts(self, stage: str | None) -> tuple[list[nn.Module], list[nn.Module]]:
        """(trainable, frozen) sub-modules of a training stage."""
        first = [m for m in (self.unary, self.rotation_net) if m is not None]
        second = [self.pairwise, self.mixer]
        if stage == 'unary':
            return first, second
        if stage == 'pairwise':
            return second, first
        return first + second, []

    def set_train_stage(self, stage: str | None) -> None:
        """Set ``requires_grad`` of every part for ``stage`` (module docstring)."""
        if stage not in TRAIN_STAGES:
            raise ValueError(f"RMGMN train_stage must be one of {TRAIN_STAGES}, got '{stage}'")
        self.train_stage = stage
        trainable, frozen = self._stage_parts(stage)
        for module in trainable:
            module.requires_grad_(True)
        for module in frozen:
            module.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> 'RMGMN':
        """Frozen parts stay in eval mode (their BatchNorm statistics must not move)."""
        super().train(mode)
        for module in self._stage_parts(getattr(self, 'train_stage', None))[1]:
            module.eval()
        return self

    @property
    def runs_pairwise(self) -> bool:
        """The unary stage does not run the (frozen, untrained) pairwise branch at all."""
        return self.train_stage != 'unary'

    # ------------------------------------------------------------------ forward
    def edge_kernels(self, kernel_maps: Tensor) -> Tensor:
        """A pairwise stage's ``(B, P*E, h, w)`` maps -> raw kernels ``(B, P, E, k, k)``."""
        b = kernel_maps.shape[0]
        k = self.kernel_size
        if kernel_maps.shape[-2:] != (k, k):
            kernel_maps = F.interpolate(kernel_maps, size=(k, k), mode='bilinear',
                                        align_corners=False)
        return kernel_maps.reshape(b, self.num_models, self.num_edges, k, k)

    def mixed_marginals(self, unary: Tensor, kernels: Tensor, mix_weights: Tensor) -> Tensor:
        """BP marginals of every pool member, mixed: ``(B, K, h, w)``, each map summing to 1.

        ``unary`` ``(B, K, h, w)`` and raw ``kernels`` ``(B, P, E, k, k)`` are clamped at 0
        (AGMN); the pool is folded into the batch, so one BP call serves all members.
        """
        b, p = mix_weights.shape
        unary = unary.clamp_min(0).unsqueeze(1).expand(-1, p, -1, -1, -1)
        marginals = tree_belief_propagation(
            unary.reshape(b * p, *unary.shape[2:]),
            kernels.clamp_min(0).reshape(b * p, *kernels.shape[2:]), self.schedule)
        marginals = marginals.reshape(b, p, *marginals.shape[1:])
        return torch.einsum('bp,bpkhw->bkhw', mix_weights.to(marginals.dtype), marginals)

    def _true_angle(self, data_samples: dict | None, predicted: Tensor) -> Tensor:
        """Teacher forcing: the ground truth's angle where defined, else the prediction.

        Measured on the batch's exact keypoints in input px (the frame the crop turns in)."""
        keypoints, visible = batch_keypoints(data_samples, None, predicted.device,
                                             predicted.shape[0],
                                             who='RMGMN(teacher_forcing=True)')
        true, valid = hand_angle(keypoints, self.angle_joints)
        labelled = visible[:, list(self.angle_joints)].all(dim=1)
        return torch.where((valid & labelled)[:, None], true, predicted.detach())

    def _rotation(self, x: Tensor, angle: Tensor | None, data_samples: dict | None
                  ) -> tuple[Tensor | None, Tensor | None]:
        """(predicted (cos, sin) or None, the (cos, sin) the crop is rotated by or None)."""
        if self.rotation_net is None:
            if angle is not None:
                raise ValueError('RMGMN(use_rotation=False) cannot take an angle')
            return None, None
        predicted = self.rotation_net(x)
        if angle is not None:
            used = as_cos_sin(angle.to(x.device, torch.float32))
        elif self.teacher_forcing and self.training:
            used = self._true_angle(data_samples, predicted)
        else:
            used = predicted.detach() if self.detach_angle else predicted
        return predicted, used

    def forward(self, x: Tensor, angle: Tensor | None = None,
                data_samples: dict | None = None) -> dict:
        """``(B, C, H, W)`` crop -> dict of outputs, every map in the crop's frame:

        * ``heatmaps``: the unary branch's maps per stage, ``(B, K, h, w)`` each;
        * ``marginals``: mixed BP marginals ``(B, K, h, w)`` (``None`` in the unary stage);
        * ``kernels``: raw edge kernels per pairwise stage, ``(B, P, E, k, k)`` each, in the
          upright frame (empty in the unary stage);
        * ``mix_weights``: ``(B, P)`` pool weights (``None`` in the unary stage);
        * ``angle_pred`` / ``angle``: predicted and used ``(cos, sin)`` ``(B, 2)`` (``None``
          without rotation).

        Args:
            angle: use this angle (``(B,)`` radians or ``(B, 2)`` ``(cos, sin)``) instead of the
                rotation net's prediction (which is still returned).
            data_samples: the batch, read only for ``teacher_forcing`` in training.
        """
        predicted, used = self._rotation(x, angle, data_samples)
        upright = x if used is None else rotate_maps(x, used)
        unary_stages = self.unary(upright)
        marginals, mix_weights, kernels = None, None, []
        if self.runs_pairwise:
            features, kernel_maps = self.pairwise(upright, unary_stages)
            kernels = [self.edge_kernels(m) for m in kernel_maps]
            mix_weights = self.mixer(features.float().mean(dim=(2, 3))).softmax(dim=1)
            marginals = self.mixed_marginals(unary_stages[-1], kernels[-1], mix_weights)

        def to_crop(maps: Tensor) -> Tensor:
            if used is None:
                return maps
            centre = heatmap_centre(x.shape[-1:-3:-1], maps.shape[-1:-3:-1])
            return rotate_maps(maps, used, inverse=True, centre=centre)

        return dict(heatmaps=[to_crop(m) for m in unary_stages],
                    marginals=None if marginals is None else to_crop(marginals),
                    kernels=kernels, mix_weights=mix_weights, angle_pred=predicted, angle=used)
