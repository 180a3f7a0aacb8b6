"""DGGAN (depth-image guided GAN) for 3D hand pose from RGB, trained through mmengine.

Four networks, each with its own optimiser (an ``OptimWrapperDict`` built by
:class:`~poseforge.engine.multi_optim.MultiOptimWrapperConstructor`, keys = attribute names):

* ``pose_net``: the 3D estimator (:class:`Topdown3DPoseEstimator`: CPM heatmaps + relative
  depths ``(z_i - z_root) / L_ref``); the only network used at test time;
* ``generator``: pix2pix ResNet generator, RGB crop -> depth map (tanh, [-1, 1]);
* ``discriminator``: conditional PatchGAN on ``cat[RGB, depth]`` (logits);
* ``regularizer``: :class:`DepthRegularizer`, pose ``(u, v, d)`` -> rendered depth map.

Everything depth-map-like lives at ``depth_size`` (128 x 128 for DGGAN): the real map
(``GenerateDepthTarget``: root-relative, / ``L_ref``, fixed span -> [0, 1], 1 = far), the
generator's output (run on the RGB crop resized to ``depth_size``, mapped ``(t + 1) / 2``), the
regulariser's output, and the RGB half of the discriminator's input. (DGGAN's code paired a 256
RGB crop with a 128 depth map in D; one size everywhere removes that mismatch.)

Stages (``stage``; DGGAN's code trains them one after the other, each config loading the previous
stage's checkpoint with ``load_from``):

``'pose'``
    the pose network alone: heatmap MSE (every stage) + 0.1 SmoothL1 on the relative depths
    (``pose_depth_weight=0`` gives the code's 2D-only CPM pretraining);
``'regularizer'``
    the regulariser alone on ground-truth pairs: L1(regularizer(pose_uvd), real depth map);
``'gan'``
    pix2pix: D step, then G step with ``L_GAN`` (+ ``gan_l1_weight`` L1 to the real map; the
    code's weight is 0);
``'joint'``
    D step, then one G step that updates the generator, the pose network and the regulariser
    together: ``L_G = gan_weight * L_GAN + task_weight * (heatmap MSE + 0.1 SmoothL1(depth) +
    regularizer_weight * L1(regularizer(predicted pose), target))`` with the paper's weights
    (1, 10, 1). The L1 target is the **generated** depth (``regularizer_target='generated'``,
    the paper: the pose must agree with what the GAN sees, and the GAN is pulled towards what
    the pose says) or the **real** one (``'real'``, what the early code did).

The D step is ``0.5 * (GAN(D(x, real), 1) + GAN(D(x, pool(fake)), 0))`` with the fake from the
image pool (pix2pix, 50 images); real depth is only ever D's real sample (and, with
``regularizer_target='real'``, the L1 target). A batch without real depth maps (MHP has none)
skips the D step and trains G against the frozen D.

In a G step the networks that are not stepped (D, and any network without an optimiser in the
config) have ``requires_grad`` off, so their gradients are not computed and never leak into
their next update. The forward passes run inside the first stepped network's
``optim_context`` (bf16 autocast with ``--amp``); one backward, then every stepped optimiser
steps. fp16 loss scaling (mmengine's ``AmpOptimWrapper``, one scaler per optimiser) cannot be
shared by one backward and is refused; use ``--amp`` (bf16).

Distributed: set ``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')`` (each
network is wrapped on its own, as mmagic does); the networks are always called through their
``forward``, which is where DDP synchronises.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import Tensor, nn

from poseforge.models.dggan.image_pool import ImagePool
from poseforge.models.estimators.topdown import _build
from poseforge.registry import MODELS

__all__ = ['DGGAN']

NETWORKS = ('pose_net', 'generator', 'discriminator', 'regularizer')


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if is_model_wrapper(module) else module


@contextmanager
def frozen(modules: Sequence[nn.Module]) -> Iterator[None]:
    """``requires_grad`` off for every parameter of ``modules`` inside the block."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@MODELS.register_module()
class DGGAN(BaseModel):
    """The four networks, the image pool and the staged training step (module docstring).

    Args:
        pose_net: a ``Topdown3DPoseEstimator`` config (its own data preprocessor is unused).
        generator, discriminator, regularizer: configs or modules.
        stage: ``'pose'``, ``'regularizer'``, ``'gan'`` or ``'joint'``.
        gan_loss: ``GANLoss`` config (``mode='vanilla'``: BCE with logits; ``'lsgan'``).
        pool_size: image pool capacity (50).
        depth_size: ``(w, h)`` of every depth map (must match ``GenerateDepthTarget``'s
            ``depth_map_size`` and the regulariser's output).
        gan_weight, task_weight, regularizer_weight: the joint G loss weights (1, 10, 1).
        gan_l1_weight: pix2pix's L1 to the real depth in the G step (the code: 0).
        pose_depth_weight: weight of the relative-depth loss in ``'pose'``/``'joint'`` (1: the
            depth head's own 0.1 applies; 0: 2D only).
        regularizer_target: ``'generated'`` (paper) or ``'real'`` (early code).
        regularizer_uv: the 2D the regulariser renders in the joint stage: ``'gt'`` (the
            labelled 2D, as the code) or ``'pred'`` (the decoded heatmaps, not differentiated).
        detach_generated_target: stop the task L1's gradient into the generator (the paper does
            not: the generator also learns from the pose).
        data_preprocessor: as every poseforge model (``PoseDataPreprocessor`` by default).
        test_cfg: ``output_depth`` (bool): add ``pred_depth_map`` (the generated map, (h, w) in
            [0, 1]) and, when the batch has one, ``gt_depth_map`` to every prediction.
    """

    STAGES = ('pose', 'regularizer', 'gan', 'joint')

    def __init__(self, pose_net: dict | nn.Module, generator: dict | nn.Module,
                 discriminator: dict | nn.Module, regularizer: dict | nn.Module,
                 stage: str = 'joint', gan_loss: dict | nn.Module | None = None,
                 pool_size: int = 50, depth_size: Sequence[int] = (128, 128),
                 gan_weight: float = 1.0, task_weight: float = 10.0,
                 regularizer_weight: float = 1.0, gan_l1_weight: float = 0.0,
                 pose_depth_weight: float = 1.0, regularizer_target: str = 'generated',
                 regularizer_uv: str = 'gt', detach_generated_target: bool = False,
                 data_preprocessor: dict | nn.Module | None = None,
                 test_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='PoseDataPreprocessor')
        super().__init__(data_preprocessor=_build(data_preprocessor), init_cfg=init_cfg)
        if stage not in self.STAGES:
            raise ValueError(f'DGGAN: stage must be one of {self.STAGES}, got {stage!r}')
        if regularizer_target not in ('generated', 'real'):
            raise ValueError("DGGAN: regularizer_target must be 'generated' (paper) or 'real' "
                             f'(early code), got {regularizer_target!r}')
        if regularizer_uv not in ('gt', 'pred'):
            raise ValueError(f"DGGAN: regularizer_uv must be 'gt' or 'pred', got "
                             f'{regularizer_uv!r}')
        self.pose_net = _build(pose_net)
        self.generator = _build(generator)
        self.discriminator = _build(discriminator)
        self.regularizer = _build(regularizer)
        self.gan_loss = _build(gan_loss if gan_loss is not None else dict(type='GANLoss'))
        self.stage = stage
        self.depth_size = (int(depth_size[0]), int(depth_size[1]))
        # D's input, cat[RGB, depth] at depth_size, allocated now: fixed checkpoint shapes
        self.image_pool = ImagePool(pool_size, image_shape=(4, self.depth_size[1],
                                                           self.depth_size[0]))
        out = getattr(self.regularizer, 'output_size', None)
        if out is not None and (out, out) != self.depth_size:
            raise ValueError(f'DGGAN: the regulariser renders {out}x{out} maps but depth_size '
                             f'is {self.depth_size}')
        self.gan_weight = float(gan_weight)
        self.task_weight = float(task_weight)
        self.regularizer_weight = float(regularizer_weight)
        self.gan_l1_weight = float(gan_l1_weight)
        self.pose_depth_weight = float(pose_depth_weight)
        self.regularizer_target = regularizer_target
        self.regularizer_uv = regularizer_uv
        self.detach_generated_target = detach_generated_target
        self.test_cfg = dict(test_cfg or {})

    # ------------------------------------------------------------------ building blocks
    @property
    def depth_codec(self) -> Any:
        return _unwrap(self.pose_net).depth_codec

    def small_rgb(self, inputs: Tensor) -> Tensor:
        """The normalised RGB crop at ``depth_size`` (area-averaged when shrinking)."""
        w, h = self.depth_size
        if tuple(inputs.shape[-2:]) == (h, w):
            return inputs
        return F.interpolate(inputs.float(), size=(h, w), mode='area')

    def generate_depth(self, rgb_small: Tensor) -> Tensor:
        """The generator's depth map on the [0, 1] scale (1 = far)."""
        return (self.generator(rgb_small).float() + 1.0) * 0.5

    @staticmethod
    def pair(rgb_small: Tensor, depth01: Tensor) -> Tensor:
        """D's input: ``cat[RGB, depth mapped to [-1, 1]]`` (the generator's tanh range)."""
        return torch.cat([rgb_small.float(), depth01.float() * 2.0 - 1.0], dim=1)

    def discriminate(self, rgb_small: Tensor, depth01: Tensor) -> Tensor:
        """D's logits for one (RGB, depth) pair."""
        return self.discriminator(self.pair(rgb_small, depth01))

    def render(self, pose_uvd: Tensor) -> Tensor:
        """The regulariser's depth map of a ``(B, K, 3)`` pose."""
        return self.regularizer(pose_uvd).float()

    def predicted_pose_uvd(self, stages: Sequence[Tensor], depth: Tensor,
                           data_samples: Mapping) -> Tensor:
        """``(u, v, d)`` of the predicted pose: the predicted relative depths on the map scale
        (differentiable), with the labelled or the decoded (not differentiated) 2D."""
        d = self.depth_codec.normalise_relative(depth.float())
        if self.regularizer_uv == 'gt':
            uv = data_samples['pose_uvd'][..., :2].float()
        else:
            pose_net = _unwrap(self.pose_net)
            with torch.no_grad():
                keypoints, _ = pose_net.head.decode(pose_net.head.predict(list(stages)).float())
            size = torch.tensor(pose_net.head.decoder.input_size, dtype=torch.float32,
                                device=depth.device)
            uv = keypoints.float() / size
        return torch.cat([uv, d[..., None]], dim=-1)

    def _require(self, data_samples: Mapping, *keys: str) -> None:
        missing = [k for k in keys if k not in data_samples]
        if missing:
            raise KeyError(f"DGGAN stage '{self.stage}' needs {missing} in the batch: put "
                           'LoadDepth and GenerateDepthTarget(depth_map_size=...) in the '
                           'training pipeline')

    # ------------------------------------------------------------------ losses
    def pose_losses(self, inputs: Tensor, data_samples: Mapping
                    ) -> tuple[dict[str, Tensor], list[Tensor], Tensor]:
        """The pose network's losses (heatmaps + weighted depth), and its outputs."""
        stages, depth = self.pose_net(inputs, mode='tensor')
        losses = _unwrap(self.pose_net).pose_losses(stages, depth, data_samples)
        losses['loss_depth'] = losses['loss_depth'] * self.pose_depth_weight
        return losses, stages, depth

    def discriminator_losses(self, rgb_small: Tensor, fake01: Tensor, real01: Tensor
                             ) -> dict[str, Tensor]:
        """pix2pix's D loss, the fake drawn through the image pool."""
        pooled = self.image_pool.query(self.pair(rgb_small, fake01.detach()))
        logits_fake = self.discriminator(pooled)
        logits_real = self.discriminate(rgb_small, real01)
        loss_fake = self.gan_loss(logits_fake, False)
        loss_real = self.gan_loss(logits_real, True)
        return dict(loss_d=0.5 * (loss_fake + loss_real), loss_d_fake=loss_fake.detach(),
                    loss_d_real=loss_real.detach())

    def generator_losses(self, inputs: Tensor, data_samples: Mapping, rgb_small: Tensor,
                         fake01: Tensor) -> dict[str, Tensor]:
        """The G-step loss of the current stage as ``loss_g`` plus its parts (detached)."""
        out: dict[str, Tensor] = {}
        loss_gan = self.gan_loss(self.discriminate(rgb_small, fake01), True)
        total = self.gan_weight * loss_gan
        out['loss_g_gan'] = loss_gan.detach()
        if self.gan_l1_weight > 0 and 'depth_map' in data_samples:
            l1 = F.l1_loss(fake01, data_samples['depth_map'].float())
            total = total + self.gan_l1_weight * l1
            out['loss_g_l1'] = l1.detach()
        if self.stage == 'joint':
            task = self.task_losses(inputs, data_samples, fake01)
            total = total + self.task_weight * task['loss_task']
            out.update({k: v.detach() for k, v in task.items()})
        out['loss_g'] = total
        return out

    def task_losses(self, inputs: Tensor, data_samples: Mapping,
                    fake01: Tensor | None = None) -> dict[str, Tensor]:
        """Heatmap MSE + 0.1 SmoothL1(depth) + ``regularizer_weight`` L1(rendered pose, target)
        as ``loss_task``, and its parts."""
        losses, stages, depth = self.pose_losses(inputs, data_samples)
        if self.regularizer_target == 'real':
            self._require(data_samples, 'depth_map', 'pose_uvd')
            target = data_samples['depth_map'].float()
        else:
            self._require(data_samples, 'pose_uvd')
            if fake01 is None:
                fake01 = self.generate_depth(self.small_rgb(inputs))
            target = fake01.detach() if self.detach_generated_target else fake01
        rendered = self.render(self.predicted_pose_uvd(stages, depth, data_samples))
        reg = F.l1_loss(rendered, target)
        task = losses['loss_kpt'] + losses['loss_depth'] + self.regularizer_weight * reg
        return dict(loss_task=task, loss_kpt=losses['loss_kpt'], loss_depth=losses['loss_depth'],
                    loss_reg_l1=reg, depth_mae=losses['depth_mae'])

    # ------------------------------------------------------------------ training
    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> dict[str, Tensor]:
        """One iteration of the current stage; returns the values to log (``loss`` first)."""
        if not isinstance(optim_wrapper, OptimWrapperDict):
            raise TypeError('DGGAN trains with one optimiser per network: build optim_wrapper '
                            "with constructor='MultiOptimWrapperConstructor'")
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        log: dict[str, Tensor] = {}
        if self.stage == 'pose':
            log.update(self.pose_step(inputs, samples, optim_wrapper))
        elif self.stage == 'regularizer':
            log.update(self.regularizer_step(samples, optim_wrapper))
        else:
            if self.stage == 'gan':
                self._require(samples, 'depth_map')
            rgb_small = self.small_rgb(inputs)
            # one generator pass serves both steps (pix2pix): D sees it detached, G through it
            with self._context(('generator',), optim_wrapper):
                fake01 = self.generate_depth(rgb_small)
            if 'depth_map' in samples:
                log.update(self.discriminator_step(rgb_small, fake01, samples, optim_wrapper))
            log.update(self.generator_step(inputs, samples, rgb_small, fake01, optim_wrapper))
        log = {'loss': log.pop('loss'), **log}  # first, as mmengine's parse_losses puts it
        return {k: v.detach() if isinstance(v, Tensor) else v for k, v in log.items()}

    def _stepped(self, names: Sequence[str], optim_wrapper: OptimWrapperDict
                 ) -> list[tuple[str, OptimWrapper]]:
        stepped = [(n, optim_wrapper[n]) for n in names if n in optim_wrapper]
        if not stepped:
            raise KeyError(f"DGGAN stage '{self.stage}' updates {list(names)}, but optim_wrapper "
                           f'has only {list(optim_wrapper.keys())}')
        return stepped

    def _update(self, loss: Tensor, names: Sequence[str],
                optim_wrapper: OptimWrapperDict) -> None:
        """One backward, then every listed network with an optimiser steps."""
        stepped = self._stepped(names, optim_wrapper)
        if len(stepped) > 1 and any(isinstance(w, AmpOptimWrapper) for _, w in stepped):
            raise NotImplementedError('DGGAN: fp16 AmpOptimWrapper keeps one loss scale per '
                                      'optimiser and cannot share a backward; use bf16 '
                                      '(tools/train.py --amp)')
        if len(stepped) == 1:
            stepped[0][1].update_params(loss)
            return
        stepped[0][1].backward(loss)
        for _, wrapper in stepped:
            wrapper.step()
            wrapper.zero_grad()

    def _others(self, names: Sequence[str], optim_wrapper: OptimWrapperDict) -> list[nn.Module]:
        """The networks a step must not touch: not listed, or listed without an optimiser."""
        return [getattr(self, n) for n in NETWORKS if n not in names or n not in optim_wrapper]

    def _context(self, names: Sequence[str], optim_wrapper: OptimWrapperDict):
        name, wrapper = self._stepped(names, optim_wrapper)[0]
        return wrapper.optim_context(getattr(self, name))

    def pose_step(self, inputs: Tensor, samples: Mapping,
                  optim_wrapper: OptimWrapperDict) -> dict[str, Tensor]:
        """Update the pose network alone (stage ``'pose'``)."""
        names = ('pose_net',)
        with frozen(self._others(names, optim_wrapper)), self._context(names, optim_wrapper):
            losses, _, _ = self.pose_losses(inputs, samples)
            loss = losses['loss_kpt'] + losses['loss_depth']
        self._update(loss, names, optim_wrapper)
        return dict(loss=loss, **{k: v for k, v in losses.items()})

    def regularizer_step(self, samples: Mapping,
                         optim_wrapper: OptimWrapperDict) -> dict[str, Tensor]:
        """Update the regulariser alone on ground-truth (pose, depth map) pairs."""
        self._require(samples, 'depth_map', 'pose_uvd')
        names = ('regularizer',)
        with frozen(self._others(names, optim_wrapper)), self._context(names, optim_wrapper):
            loss = F.l1_loss(self.render(samples['pose_uvd'].float()),
                             samples['depth_map'].float())
        self._update(loss, names, optim_wrapper)
        return dict(loss=loss, loss_reg_l1=loss)

    def discriminator_step(self, rgb_small: Tensor, fake01: Tensor, samples: Mapping,
                           optim_wrapper: OptimWrapperDict) -> dict[str, Tensor]:
        """Update D only (the fake is detached, every other network frozen)."""
        names = ('discriminator',)
        with frozen(self._others(names, optim_wrapper)), self._context(names, optim_wrapper):
            losses = self.discriminator_losses(rgb_small, fake01, samples['depth_map'].float())
        self._update(losses['loss_d'], names, optim_wrapper)
        return losses

    def generator_step(self, inputs: Tensor, samples: Mapping, rgb_small: Tensor,
                       fake01: Tensor, optim_wrapper: OptimWrapperDict) -> dict[str, Tensor]:
        """Update G (and, jointly, the pose network and the regulariser); D frozen."""
        names = (('generator', 'pose_net', 'regularizer') if self.stage == 'joint'
                 else ('generator',))
        with frozen(self._others(names, optim_wrapper)), self._context(names, optim_wrapper):
            losses = self.generator_losses(inputs, samples, rgb_small, fake01)
        self._update(losses['loss_g'], names, optim_wrapper)
        return dict(loss=losses['loss_g'], **losses)

    # ------------------------------------------------------------------ forward / predict
    def forward(self, inputs: Tensor, data_samples: Mapping | None = None,
                mode: str = 'tensor') -> Any:
        """``'predict'``: the pose network's predictions (+ depth maps with ``output_depth``);
        ``'loss'``: the joint stage's task losses (no update; for monitoring); ``'tensor'``:
        ``(stage heatmaps, relative depths, generated depth map)``."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            return self.task_losses(inputs, data_samples or {})
        if mode == 'tensor':
            stages, depth = self.pose_net(inputs, mode='tensor')
            return stages, depth, self.generate_depth(self.small_rgb(inputs))
        raise ValueError(f"Invalid mode '{mode}': expected 'loss', 'predict' or 'tensor'")

    def predict(self, inputs: Tensor, data_samples: Mapping | None = None) -> list[dict]:
        results = _unwrap(self.pose_net).predict(inputs, data_samples)
        if self.test_cfg.get('output_depth'):
            fake = self.generate_depth(self.small_rgb(inputs))[:, 0].detach().cpu().numpy()
            real = (data_samples or {}).get('depth_map')
            real = None if real is None else real[:, 0].detach().float().cpu().numpy()
            for i, result in enumerate(results):
                result['pred_depth_map'] = fake[i].astype(np.float32)
                if real is not None:
                    result['gt_depth_map'] = real[i].astype(np.float32)
        return results
