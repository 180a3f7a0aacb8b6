"""DGGAN: GAN losses against closed forms, the image pool, the depth regulariser, which
parameters each alternating step updates, save / resume of a GAN run (both optimisers and the
pool), and a short run on generated hands that lowers the task loss and beats an untrained
model's 3D EPE."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from mmengine.optim import OptimWrapperDict

from conftest import ROOT

from poseforge.engine.multi_optim import MultiOptimWrapperConstructor
from poseforge.models.dggan import DGGAN, DepthRegularizer, GANLoss, ImagePool
from poseforge.registry import MODELS

# ----------------------------------------------------------------------------- tiny model
INPUT, HEATMAP, DEPTH = 64, 8, 32  # crop, heatmap and depth-map sides


def tiny_pose_net() -> dict:
    codec = dict(type='MSRAHeatmap', input_size=(INPUT, INPUT), heatmap_size=(HEATMAP, HEATMAP),
                 sigma=1.0)
    return dict(
        type='Topdown3DPoseEstimator',
        backbone=dict(type='CPM', arch='light_s8', num_keypoints=21),
        head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
                  decoder=codec),
        depth_head=dict(type='RelativeDepthHead', in_channels=128, heatmap_size=(HEATMAP,
                                                                                 HEATMAP),
                        stage_channels=16, stage_kernel=3, stage_dilations=(1,),
                        stage_norm=True, fc_channels=(64,)),
        test_cfg=dict(granted='gt'))


def tiny_dggan(stage: str = 'joint', **kwargs) -> dict:
    return dict(type='DGGAN', stage=stage, pose_net=tiny_pose_net(),
                generator=dict(type='ResnetGenerator', ngf=8, num_blocks=2),
                discriminator=dict(type='PatchDiscriminator', ndf=8, num_layers=3),
                regularizer=dict(type='DepthRegularizer', channels=(32, 16, 8)),
                depth_size=(DEPTH, DEPTH), pool_size=4, **kwargs)


def optimisers(model: DGGAN, names=('pose_net', 'generator', 'discriminator', 'regularizer'),
               lr: float = 1e-3) -> OptimWrapperDict:
    cfg = {n: dict(optimizer=dict(type='Adam', lr=lr, betas=(0.5, 0.999))) for n in names}
    return MultiOptimWrapperConstructor(cfg)(model)


def synthetic_batch(batch: int = 2, seed: int = 0) -> dict:
    """A batch as pose_collate makes it, with every target a DGGAN stage reads."""
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=torch.randint(0, 255, (batch, 3, INPUT, INPUT), generator=g,
                                     dtype=torch.uint8),
                data_samples=dict(
                    heatmaps=torch.rand(batch, 21, HEATMAP, HEATMAP, generator=g),
                    keypoint_weights=torch.ones(batch, 21),
                    keypoint_depth=torch.randn(batch, 21, generator=g),
                    keypoint_depth_weights=torch.ones(batch, 21),
                    depth_map=torch.rand(batch, 1, DEPTH, DEPTH, generator=g),
                    pose_uvd=torch.rand(batch, 21, 3, generator=g),
                    meta=[{} for _ in range(batch)]))


def snapshot(model: torch.nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    return {name: {k: v.detach().clone() for k, v in getattr(model, name).named_parameters()}
            for name in ('pose_net', 'generator', 'discriminator', 'regularizer')}


def changed(before: dict, model: torch.nn.Module) -> set[str]:
    """The networks with at least one parameter that moved."""
    out = set()
    for name, params in before.items():
        now = dict(getattr(model, name).named_parameters())
        if any(not torch.equal(v, now[k]) for k, v in params.items()):
            out.add(name)
    return out


# ----------------------------------------------------------------------------- GAN loss
def test_gan_losses_match_closed_forms_and_stay_finite():
    logits = torch.tensor([[-100.0, 0.0, 3.0], [50.0, -2.0, 1e4]])
    x = logits.double()
    softplus = lambda v: torch.where(v > 30, v, torch.log1p(torch.exp(v)))  # noqa: E731
    vanilla = GANLoss('vanilla')
    # BCE with logits: real -> mean log(1 + e^-x), fake -> mean log(1 + e^x)
    assert vanilla(logits, True).item() == pytest.approx(softplus(-x).mean().item(), rel=1e-6)
    assert vanilla(logits, False).item() == pytest.approx(softplus(x).mean().item(), rel=1e-6)
    assert vanilla(torch.zeros(4), True).item() == pytest.approx(math.log(2.0))
    # saturated logits: a sigmoid + BCELoss (the early code) would give inf / nan here
    assert math.isfinite(vanilla(torch.tensor([1e6, -1e6]), True).item())
    lsgan = GANLoss('lsgan')
    assert lsgan(logits[:, :3], True).item() == pytest.approx(((x[:, :3] - 1) ** 2).mean().item())
    assert lsgan(logits[:, :3], False).item() == pytest.approx((x[:, :3] ** 2).mean().item())
    smoothed = GANLoss('lsgan', real_label=0.9, loss_weight=2.0)
    assert smoothed(torch.zeros(3), True).item() == pytest.approx(2.0 * 0.81)
    with pytest.raises(ValueError, match='mode'):
        GANLoss('wgan')


# ----------------------------------------------------------------------------- image pool
def test_image_pool_fills_then_swaps_half_of_the_time():
    torch.manual_seed(0)
    pool = ImagePool(capacity=50)
    image = lambda i: torch.full((1, 1, 2, 2), float(i))  # noqa: E731  (id as the pixel value)
    for i in range(50):  # filling: every image goes in and comes straight back
        assert pool.query(image(i)).flatten()[0].item() == i
    assert len(pool) == 50
    inside = set(range(50))
    swaps, queries = 0, 2000
    for i in range(50, 50 + queries):
        out = int(pool.query(image(i)).flatten()[0].item())
        if out != i:  # a swap: an image that was in the pool comes out, the new one goes in
            assert out in inside
            inside.remove(out)
            inside.add(i)
            swaps += 1
        assert len(pool) == 50
        assert {int(v) for v in pool.images[:, 0, 0, 0].tolist()} == inside
    assert 0.45 < swaps / queries < 0.55
    # a batch: one decision per image; a pool of capacity 0 passes images through
    batch = torch.arange(8.0).reshape(8, 1, 1, 1).expand(8, 1, 2, 2) + 10_000
    assert pool.query(batch).shape == batch.shape
    assert torch.equal(ImagePool(0).query(batch), batch)


# ----------------------------------------------------------------------------- regulariser
def disk_maps(pose_uvd: torch.Tensor, size: int, radius: float) -> torch.Tensor:
    """Target depth maps: background 1 (far), a disk at each joint's (u, v) with its depth."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing='ij')
    u, v, d = (pose_uvd[..., i, None, None] * (size if i < 2 else 1) for i in range(3))
    inside = (xs - u) ** 2 + (ys - v) ** 2 <= radius ** 2                  # (B, K, S, S)
    depth = torch.where(inside, d, torch.ones_like(d)).amin(dim=1)          # nearest wins
    return depth[:, None]


def two_hands(generator: torch.Generator) -> torch.Tensor:
    """Two 2D "hand" layouts (21 joints each), one in the left and one in the right half."""
    return torch.stack([0.5 + 0.35 * (torch.rand(21, 2, generator=generator) - 0.5)
                        + torch.tensor([dx, 0.0]) for dx in (-0.2, 0.2)])


def posed(layouts: torch.Tensor, which: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """``(B, 21, 3)`` poses: layout ``which`` with every joint at ``depth`` (map scale)."""
    return torch.cat([layouts[which], depth.reshape(-1, 1, 1).expand(-1, 21, 1)], dim=-1)


def test_regularizer_renders_a_pose_at_its_depth_where_its_joints_are():
    torch.manual_seed(0)
    size = 16
    reg = DepthRegularizer(channels=(64, 32))  # 4 -> 16 px (DGGAN: five layers, 128 px)
    assert reg(torch.rand(2, 21, 3)).shape == (2, 1, size, size)
    g = torch.Generator().manual_seed(1)
    layouts = two_hands(g)
    optimiser = torch.optim.Adam(reg.parameters(), lr=3e-3)
    for _ in range(300):  # pretraining on (pose, depth map) pairs with L1, as DGGAN does
        pose = posed(layouts, torch.randint(0, 2, (16,), generator=g),
                     0.2 + 0.6 * torch.rand(16, generator=g))
        loss = torch.nn.functional.l1_loss(reg(pose), disk_maps(pose, size, radius=2.5))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    masks = disk_maps(posed(layouts, torch.tensor([0, 1]), torch.zeros(2)), size, 2.5)[:, 0] < 1
    for depth in (0.35, 0.5, 0.65):  # depths between the training samples' own
        with torch.no_grad():
            rendered = reg(posed(layouts, torch.tensor([0, 1]), torch.full((2,), depth)))[:, 0]
        for which in (0, 1):
            here, there = masks[which], masks[1 - which] & ~masks[which]
            # the hand's pixels hold its depth, the other hand's place and the rest are far
            assert abs(rendered[which][here].mean().item() - depth) < 0.06, (depth, which)
            assert (rendered[which][there] - 1).abs().mean() < 0.1
            assert (rendered[which][~masks.any(0)] - 1).abs().mean() < 0.06


# ----------------------------------------------------------------------------- steps
def test_alternating_steps_update_only_their_networks():
    torch.manual_seed(0)
    model = MODELS.build(tiny_dggan('joint'))
    wrappers = optimisers(model)
    data = model.data_preprocessor(synthetic_batch(), True)
    inputs, samples = data['inputs'], data['data_samples']
    rgb = model.small_rgb(inputs)

    before = snapshot(model)
    fake = model.generate_depth(rgb)
    model.discriminator_step(rgb, fake, samples, wrappers)
    assert changed(before, model) == {'discriminator'}

    before = snapshot(model)
    losses = model.generator_step(inputs, samples, rgb, model.generate_depth(rgb), wrappers)
    assert changed(before, model) == {'generator', 'pose_net', 'regularizer'}
    assert set(losses) >= {'loss_g', 'loss_g_gan', 'loss_task', 'loss_reg_l1', 'loss_kpt'}
    # no gradient reached D during G's step (it would leak into D's next update)
    assert all(p.grad is None or not p.grad.any() for p in model.discriminator.parameters())

    # a whole train_step: both steps, nothing left in any .grad, the pool fed
    before = snapshot(model)
    log = model.train_step(synthetic_batch(seed=1), wrappers)
    assert changed(before, model) == {'generator', 'pose_net', 'regularizer', 'discriminator'}
    assert list(log)[0] == 'loss' and {'loss_d', 'loss_d_real', 'loss_d_fake'} <= set(log)
    assert len(model.image_pool) == 4  # two batches of two

    # the GAN stage leaves the pose network and the regulariser alone
    model.stage = 'gan'
    before = snapshot(model)
    model.train_step(synthetic_batch(seed=2), wrappers)
    assert changed(before, model) == {'generator', 'discriminator'}

    # a network without an optimiser is frozen, even in the joint stage
    model.stage = 'joint'
    partial = optimisers(model, names=('pose_net', 'generator', 'discriminator'))
    before = snapshot(model)
    model.train_step(synthetic_batch(seed=3), partial)
    assert changed(before, model) == {'generator', 'pose_net', 'discriminator'}

    # pretraining stages
    for stage, expected in (('pose', {'pose_net'}), ('regularizer', {'regularizer'})):
        model.stage = stage
        before = snapshot(model)
        log = model.train_step(synthetic_batch(seed=4), wrappers)
        assert changed(before, model) == expected, stage
        assert torch.isfinite(log['loss'])


def test_regulariser_target_follows_the_option():
    """Paper: the task L1 pulls the generator towards the rendered pose; early code: the target
    is the real depth, and the generator gets no gradient from the task."""
    torch.manual_seed(0)
    batch = synthetic_batch()
    for target, generator_learns in (('generated', True), ('real', False)):
        model = MODELS.build(tiny_dggan('joint', regularizer_target=target))
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        fake = model.generate_depth(model.small_rgb(data['inputs']))
        task = model.task_losses(data['inputs'], data['data_samples'], fake)
        task['loss_reg_l1'].backward()
        grad = sum(float(p.grad.abs().sum()) for p in model.generator.parameters()
                   if p.grad is not None)
        assert (grad > 0) == generator_learns, target
    with pytest.raises(ValueError, match='regularizer_target'):
        MODELS.build(tiny_dggan('joint', regularizer_target='both'))


def test_amp_type_reaches_every_network_and_bad_optimiser_configs_fail():
    """``tools/train.py --amp`` sets the top-level optim_wrapper type: each network's wrapper
    takes it, and a joint step runs under bf16 autocast."""
    from poseforge.engine.optim_wrapper import BF16AutocastOptimWrapper
    torch.manual_seed(0)
    model = MODELS.build(tiny_dggan('joint'))
    adam = dict(optimizer=dict(type='Adam', lr=1e-3))
    wrappers = MultiOptimWrapperConstructor(dict(
        type='BF16AutocastOptimWrapper', pose_net=adam, generator=adam, discriminator=adam,
        regularizer=adam))(model)
    assert all(isinstance(w, BF16AutocastOptimWrapper) for w in wrappers.values())
    before = snapshot(model)
    log = model.train_step(synthetic_batch(), wrappers)
    assert torch.isfinite(log['loss']) and len(changed(before, model)) == 4
    with pytest.raises(ValueError, match="no network 'generatr'"):
        MultiOptimWrapperConstructor(dict(generatr=adam))(model)
    with pytest.raises(ValueError, match='one entry per'):
        MultiOptimWrapperConstructor(dict(generator=dict(lr=1e-3)))
    with pytest.raises(TypeError, match='MultiOptimWrapperConstructor'):
        model.train_step(synthetic_batch(), wrappers['generator'])


# ----------------------------------------------------------------------------- losses, sizes
def test_losses_compose_with_the_papers_weights():
    """D loss = 0.5 (real + fake) on D's logits of cat[RGB, depth] (the fake through the pool);
    G loss = L_GAN + 10 task; task = heatmap MSE + 0.1 SmoothL1(relative depth) + L1(rendered
    predicted pose, generated depth)."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_dggan('joint'))
    data = model.data_preprocessor(synthetic_batch(), True)
    inputs, samples = data['inputs'], data['data_samples']
    rgb = model.small_rgb(inputs)
    assert rgb.shape[-2:] == (DEPTH, DEPTH)
    with torch.no_grad():
        fake = model.generate_depth(rgb)
        d = model.discriminator_losses(rgb, fake, samples['depth_map'])  # pool filling: as is
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        real_logits = model.discriminator(torch.cat([rgb, samples['depth_map'] * 2 - 1], 1))
        fake_logits = model.discriminator(torch.cat([rgb, fake * 2 - 1], 1))
        assert d['loss_d_real'] == pytest.approx(
            bce(real_logits, torch.ones_like(real_logits)).item(), rel=1e-5)
        assert d['loss_d_fake'] == pytest.approx(
            bce(fake_logits, torch.zeros_like(fake_logits)).item(), rel=1e-5)
        assert d['loss_d'] == pytest.approx(0.5 * (d['loss_d_real'] + d['loss_d_fake']).item())
        model.eval()  # fixed BatchNorm statistics: the parts below recomputed alike
        g = model.generator_losses(inputs, samples, rgb, fake)
        assert g['loss_g'] == pytest.approx((g['loss_g_gan'] + 10 * g['loss_task']).item(),
                                            rel=1e-5)
        assert g['loss_task'] == pytest.approx(
            (g['loss_kpt'] + g['loss_depth'] + g['loss_reg_l1']).item(), rel=1e-5)
        _, depth = model.pose_net(inputs, mode='tensor')
        smooth = torch.nn.functional.smooth_l1_loss(depth, samples['keypoint_depth'])
        assert g['loss_depth'] == pytest.approx(0.1 * smooth.item(), rel=1e-5)
        uvd = torch.cat([samples['pose_uvd'][..., :2],
                         (0.5 + depth / (2 * model.depth_codec.depth_span))[..., None]], -1)
        l1 = (model.regularizer(uvd) - fake).abs().mean()
        assert g['loss_reg_l1'] == pytest.approx(l1.item(), rel=1e-5)


def test_paper_sized_networks():
    """configs/_base_/models/dggan_cpm-vgg19_256.py: ResNet-9 generator (BatchNorm, tanh, 1
    channel), 3-layer PatchGAN with instance norm on 4 channels giving patch logits, and a
    regulariser rendering 128 x 128 maps (run on small inputs here: they are convolutional)."""
    from mmengine.config import Config

    from poseforge.models.dggan.generator import ResnetBlock
    cfg = Config.fromfile(str(ROOT / 'configs' / '_base_' / 'models' / 'dggan_cpm-vgg19_256.py'))
    assert tuple(cfg.model.depth_size) == (128, 128) and cfg.model.pool_size == 50
    generator = MODELS.build(cfg.model.generator)
    layers = list(generator.model)
    assert sum(isinstance(m, ResnetBlock) for m in layers) == 9
    assert isinstance(layers[-1], torch.nn.Tanh)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in generator.modules())
    torch.manual_seed(0)
    out = generator(10 * torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 1, 32, 32) and out.abs().max() <= 1
    discriminator = MODELS.build(cfg.model.discriminator)
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in discriminator.modules()) == 3
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in discriminator.modules())
    assert discriminator(torch.randn(1, 4, 32, 32)).shape == (1, 1, 2, 2)  # 70x70 PatchGAN
    regularizer = MODELS.build(cfg.model.regularizer)
    assert regularizer.output_size == 128
    assert regularizer(torch.rand(1, 21, 3)).shape == (1, 1, 128, 128)
    assert cfg.model.gan_loss.mode == 'vanilla'  # BCE with logits; 'lsgan' the option
