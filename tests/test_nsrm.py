"""NSRM: backbone (wiring, parameter counts, paper-size pass), head (losses, limb targets from
either coordinate source), limb-weight decay hook, configs, a short training run."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from poseforge.datasets.transforms.formatting import DEFAULT_META_KEYS

from conftest import ROOT, tiny_cfg_options

import poseforge.models  # noqa: F401  (registers CPM, KeypointMSELoss, the estimator)
from poseforge.codecs.msra_heatmap import MSRAHeatmap
from poseforge.models.estimators.topdown import TopdownPoseEstimator
from poseforge.models.nsrm.backbone import NSRM, NSRMOutput
from poseforge.models.nsrm.head import DEFAULT_LIMB_WEIGHTS, NSRMHead
from poseforge.models.nsrm.limb_masks import limb_targets, num_limb_maps
from poseforge.models.nsrm.limb_weight_hook import LimbWeightDecayHook, limb_weight_scale
from poseforge.registry import HOOKS, MODELS

SYNTH_CONFIG = ROOT / 'configs' / 'nsrm' / 'nsrm_lpm-g1and6_synth-hands-128.py'
#: w of the original's configs/{LPM,LDM}_{G1,G1_6}.json; G6 alone (unpublished) takes G1's.
ORIGINAL_LIMB_WEIGHTS = {('lpm', 'G1'): 0.5, ('lpm', 'G1&6'): 0.1, ('lpm', 'G6'): 0.5,
                         ('ldm', 'G1'): 1.0, ('ldm', 'G1&6'): 0.2, ('ldm', 'G6'): 1.0}
#: A small CPM-style arch for fast wiring / head tests (stride 4).
TINY_ARCH = dict(trunk=[[8, 2], 'M', 8], trunk_norm=False, stage1_channels=8, stage_channels=8,
                 stage_kernel=3, stage_dilations=[1], stage_norm=False)


def hand_keypoints(batch: int, size: float, seed: int, margin: float = 2.0) -> np.ndarray:
    """(B, 21, 2) joints inside [margin, size - margin] (input px or cells)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(margin, size - margin, (batch, 21, 2)).astype(np.float32)


def encoded_targets(keypoints: np.ndarray, codec: MSRAHeatmap,
                    visible: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoint heatmaps and weights of a batch, as GenerateTarget makes them."""
    out = [codec.encode(k, None if visible is None else visible[i])
           for i, k in enumerate(keypoints)]
    return (torch.from_numpy(np.stack([o['heatmaps'] for o in out])),
            torch.from_numpy(np.stack([o['keypoint_weights'] for o in out])))


def batch_meta(keypoints: np.ndarray, input_size: int, visible: np.ndarray | None = None,
               **extra) -> dict:
    """``data_samples`` with the exact keypoints in ``meta``, as PackPoseInputs packs them."""
    visible = np.ones(keypoints.shape[:2], np.float32) if visible is None else visible
    return dict(meta=[dict(transformed_keypoints=k, input_size=(input_size, input_size),
                           keypoints_visible=v, **extra) for k, v in zip(keypoints, visible)])


# --------------------------------------------------------------------------- backbone
@pytest.fixture(scope='module')
def vgg_nsrm_g1and6() -> NSRM:
    return NSRM(arch='vgg19', num_keypoints=21, limb_channels=7)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_equal_the_original(vgg_nsrm_g1and6):
    # CPMHandLimb(outc=21, lshc=C) of HowieMa/NSRMhand, counted with the original code
    assert n_params(vgg_nsrm_g1and6) == 36_613_396
    assert n_params(NSRM(arch='vgg19', limb_channels=1)) == 36_420_610
    assert n_params(NSRM(arch='vgg19', limb_channels=6)) == 36_581_265


def test_paper_shape_forward_backward(vgg_nsrm_g1and6):
    model = vgg_nsrm_g1and6
    head = NSRMHead(mask_type='lpm', grouping='G1&6')
    codec = MSRAHeatmap((368, 368), (46, 46), sigma=1.0)
    keypoints = hand_keypoints(1, 368, seed=0, margin=20)
    heatmaps, weights = encoded_targets(keypoints, codec)
    out = model(torch.randn(1, 3, 368, 368))
    assert [tuple(t.shape) for t in out.limb_logits] == [(1, 7, 46, 46)] * 3
    assert [tuple(t.shape) for t in out.heatmaps] == [(1, 21, 46, 46)] * 3
    losses = head.loss(out, heatmaps, weights, batch_meta(keypoints, 368))
    (losses['loss_kpt'] + losses['loss_limb']).backward()
    for name, module in [('trunk.0', model.trunk[0])] + [
            (f'stages.{i}', stage[0]) for i, stage in enumerate(model.stages)]:
        grad = module.weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_stage_wiring_follows_the_paper():
    """s1=Stage1(f); s2=S(f,s1); s3=S(f,s2); s4=S(f,s3); s5=S(f,s3,s4); s6=S(f,s3,s5)."""
    model = NSRM(arch=TINY_ARCH, num_keypoints=5, limb_channels=2).eval()
    inputs, outputs = {}, {}

    def record(index: int):
        def hook(module, args, out) -> None:
            inputs[index], outputs[index] = args[0], out
        return hook

    for i, stage in enumerate(model.stages):
        stage.register_forward_hook(record(i))
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    f = inputs[0]
    s = outputs
    assert f.shape[1] == model.feat_channels
    expected = {1: [f, s[0]], 2: [f, s[1]], 3: [f, s[2]], 4: [f, s[2], s[3]], 5: [f, s[2], s[4]]}
    for i, parts in expected.items():
        assert torch.equal(inputs[i], torch.cat(parts, dim=1)), f'stage {i + 1}'
    assert all(torch.equal(a, s[i]) for i, a in enumerate(out.limb_logits))
    assert all(torch.equal(a, s[3 + i]) for i, a in enumerate(out.heatmaps))
    assert [tuple(t.shape[1:]) for t in out.limb_logits] == [(2, 8, 8)] * 3
    assert [tuple(t.shape[1:]) for t in out.heatmaps] == [(5, 8, 8)] * 3


def test_backbone_options_are_checked():
    with pytest.raises(ValueError, match='at least one'):
        NSRM(arch=TINY_ARCH, num_limb_stages=0)
    with pytest.raises(ValueError, match="arch='vgg19'"):
        NSRM(arch=TINY_ARCH, pretrained='vgg19.pth')
    assert len(NSRM(arch=TINY_ARCH, num_limb_stages=2, num_keypoint_stages=4).stages) == 6


# --------------------------------------------------------------------------- head
def random_feats(batch: int, limb_maps: int, size: int, seed: int) -> NSRMOutput:
    g = torch.Generator().manual_seed(seed)
    return NSRMOutput(
        [(2 * torch.randn(batch, limb_maps, size, size, generator=g)).requires_grad_()
         for _ in range(3)],
        [(0.3 * torch.rand(batch, 21, size, size, generator=g)).requires_grad_()
         for _ in range(3)])


@pytest.mark.parametrize('mask_type,grouping', [('lpm', 'G1&6'), ('ldm', 'G1'), ('ldm', 'G6')])
def test_head_losses_follow_the_original_formulas(mask_type, grouping):
    """NSRMHead == main.py + src/loss.py of the original: sum-MSE over the keypoint stages and
    w * (BCE_G1 + w61 BCE_G6) over the limb stages, each summed / (B * H * W)."""
    b, size = 2, 16
    codec = MSRAHeatmap((64, 64), (size, size), sigma=1.0)
    keypoints = hand_keypoints(b, 64, seed=4, margin=6)
    heatmaps, weights = encoded_targets(keypoints, codec)
    head = NSRMHead(mask_type=mask_type, grouping=grouping)  # the original's weights
    w, w61 = ORIGINAL_LIMB_WEIGHTS[mask_type, grouping], 0.2
    assert head.limb_weight == w and DEFAULT_LIMB_WEIGHTS == ORIGINAL_LIMB_WEIGHTS
    feats = random_feats(b, num_limb_maps(grouping), size, seed=5)
    losses = head.loss(feats, heatmaps, weights, batch_meta(keypoints, 64))

    norm = b * size * size
    kpt = sum(((p - heatmaps) ** 2).sum() / norm for p in feats.heatmaps)
    target = limb_targets(torch.from_numpy(keypoints / 4), None, (size, size), mask_type,
                          grouping)

    def bce_sum(logits, t):  # the original: BCELoss(sigmoid(x)), summed
        p = logits.sigmoid()
        return -(t * p.log() + (1 - t) * (1 - p).log()).sum() / norm

    if grouping == 'G1&6':
        limb = sum(bce_sum(x[:, :1], target[:, :1]) + w61 * bce_sum(x[:, 1:], target[:, 1:])
                   for x in feats.limb_logits)
    else:
        limb = sum(bce_sum(x, target) for x in feats.limb_logits)
    assert losses['loss_kpt'].item() == pytest.approx(kpt.item(), rel=1e-5)
    assert losses['loss_limb'].item() == pytest.approx(w * limb.item(), rel=1e-4)
    assert set(losses) >= {'mse_stage4', 'mse_stage6', 'bce_stage1', 'bce_stage3',
                           'limb_weight', 'acc_pose'}
    assert losses['limb_weight'].item() == pytest.approx(w)
    losses['loss_limb'].backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in feats.limb_logits)


def test_limb_targets_come_from_the_exact_keypoints_in_meta():
    """The masks are drawn from meta['transformed_keypoints'] scaled to the grid (x 16 / 64),
    with meta['keypoints_visible']; a batch without them is refused by name."""
    b, size, input_size = 3, 16, 64
    codec = MSRAHeatmap((input_size, input_size), (size, size), sigma=1.0)
    keypoints = hand_keypoints(b, input_size, seed=6, margin=1)
    visible = np.ones((b, 21), dtype=np.float32)
    visible[1, 9] = 0  # unlabelled: its limbs vanish
    heatmaps, _ = encoded_targets(keypoints, codec, visible)
    for mask_type in ('lpm', 'ldm'):
        head = NSRMHead(mask_type=mask_type, grouping='G1&6')
        got = head.limb_targets(heatmaps, batch_meta(keypoints, input_size, visible))
        exact = limb_targets(torch.from_numpy(keypoints / 4), torch.from_numpy(visible),
                             (size, size), mask_type, 'G1&6')
        assert torch.allclose(got, exact, atol=1e-6)
    # joint 9 (middle finger root) is unlabelled in sample 1 only: its limbs (0, 9) and (9, 10)
    # leave the palm and middle-finger maps (G1&6 channels 6 and 3) of that sample alone
    head = NSRMHead(mask_type='lpm', grouping='G1&6')
    with_9 = head.limb_targets(heatmaps, batch_meta(keypoints, input_size))
    without_9 = head.limb_targets(heatmaps, batch_meta(keypoints, input_size, visible))
    changed = (with_9 != without_9).flatten(2).any(-1)  # (B, C)
    assert changed[1, 3] and changed[1, 6]
    assert not changed[0].any() and not changed[2].any()
    assert not changed[1, [1, 2, 4, 5]].any()
    with pytest.raises(ValueError, match="transformed_keypoints"):
        NSRMHead().limb_targets(heatmaps, None)
    with pytest.raises(ValueError, match="meta without transformed_keypoints"):
        NSRMHead().limb_targets(heatmaps, dict(meta=[dict(input_size=(64, 64))] * b))


def test_joint_beyond_the_crop_keeps_its_limb():
    codec = MSRAHeatmap((64, 64), (16, 16), sigma=1.0)
    keypoints = hand_keypoints(1, 64, seed=7, margin=8)
    keypoints[0, 4] = (40.0, -40.0)  # thumb tip 10 cells above the grid: the codec drops it
    heatmaps, weights = encoded_targets(keypoints, codec)
    assert weights[0, 4] == 0
    head = NSRMHead(mask_type='lpm', grouping='G6')
    thumb = head.limb_targets(heatmaps, batch_meta(keypoints, 64))[0, 0]
    # limb (3, 4) leaves the grid through its top row: the exact coordinates still draw it
    want = limb_targets(torch.from_numpy(keypoints / 4), None, (16, 16), 'lpm', 'G6')[0, 0]
    assert torch.allclose(thumb, want, atol=1e-6)
    without_tip = limb_targets(torch.from_numpy(keypoints[:, :4] / 4), None, (16, 16), 'lpm',
                               'G1', limbs=[(0, 1), (1, 2), (2, 3)])[0, 0]
    assert (thumb[0] - without_tip[0]).max() > 0.5  # the top row holds the outgoing limb


def test_head_names_a_limb_channel_mismatch_and_bad_options():
    head = NSRMHead(grouping='G1')
    codec = MSRAHeatmap((64, 64), (16, 16), sigma=1.0)
    keypoints = hand_keypoints(1, 64, seed=8)
    heatmaps, weights = encoded_targets(keypoints, codec)
    with pytest.raises(ValueError, match='limb_channels=1'):
        head.loss(random_feats(1, 7, 16, seed=0), heatmaps, weights, batch_meta(keypoints, 64))
    with pytest.raises(ValueError, match='mask_type'):
        NSRMHead(mask_type='pam')
    with pytest.raises(TypeError, match='NSRM'):
        head.loss([heatmaps], heatmaps, weights)


def test_estimator_trains_and_predicts_with_the_last_keypoint_stage():
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    model = TopdownPoseEstimator(
        backbone=dict(type='NSRM', arch=TINY_ARCH, num_keypoints=21, limb_channels=1),
        head=dict(type='NSRMHead', mask_type='ldm', grouping='G1', decoder=codec))
    assert isinstance(model.head, NSRMHead)
    keypoints = hand_keypoints(2, 32, seed=9)
    heatmaps, weights = encoded_targets(keypoints, MSRAHeatmap((32, 32), (8, 8), sigma=1.0))
    inputs = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)
    meta = batch_meta(keypoints, 32, input_to_image=np.array([[2, 0, 1], [0, 2, 3]],
                                                             np.float32))
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=dict(
        heatmaps=heatmaps, keypoint_weights=weights, **meta)), True)
    losses = model(**data, mode='loss')
    assert losses['loss_limb'] > 0 and losses['loss_kpt'] > 0
    model.eval()
    with torch.no_grad():
        results = model(**data, mode='predict')
        last = model.backbone(data['inputs']).heatmaps[-1]
    want, _ = model.head.decoder.batch_decode(last)
    assert len(results) == 2 and results[0]['pred_keypoints'].shape == (21, 2)
    np.testing.assert_allclose(results[1]['pred_keypoints'], 2 * want[1].numpy() + [1, 3],
                               atol=1e-4)


# --------------------------------------------------------------------------- weight decay hook
def test_limb_weight_schedule_is_the_originals():
    # main.py: cur_weight *= 0.1 when (1-based) epoch % 20 == 0, before that epoch trains
    original, weight = [], 1.0
    for epoch in range(1, 81):
        if epoch % 20 == 0:
            weight *= 0.1
        original.append(weight)
    ours = [limb_weight_scale(e, 20, 0.1) for e in range(80)]  # mmengine: 0-based epochs
    assert ours == pytest.approx(original)


def test_hook_sets_the_scale_the_head_logs():
    model = TopdownPoseEstimator(
        backbone=dict(type='NSRM', arch=TINY_ARCH, num_keypoints=21, limb_channels=7),
        head=dict(type='NSRMHead', mask_type='lpm', grouping='G1&6', limb_weight=0.1))
    hook = HOOKS.build(dict(type='LimbWeightDecayHook', interval=20, ratio=0.1))
    assert isinstance(hook, LimbWeightDecayHook)
    hook.before_train_epoch(SimpleNamespace(model=model, epoch=45))  # 46th epoch: 2 decays
    assert model.head.limb_weight_scale == pytest.approx(0.01)
    codec = MSRAHeatmap((32, 32), (8, 8), sigma=1.0)
    keypoints = hand_keypoints(1, 32, seed=10)
    heatmaps, weights = encoded_targets(keypoints, codec)
    losses = model.head.loss(random_feats(1, 7, 8, seed=1), heatmaps, weights,
                             batch_meta(keypoints, 32))
    assert losses['limb_weight'].item() == pytest.approx(0.1 * 0.01)
    with pytest.raises(RuntimeError, match='NSRMHead'):
        hook.before_train_epoch(SimpleNamespace(model=torch.nn.Linear(2, 2), epoch=0))


# --------------------------------------------------------------------------- configs
def strip_packing(pipeline) -> list:
    """A pipeline without its PackPoseInputs."""
    return [t for t in pipeline if t['type'] != 'PackPoseInputs']


def test_paper_configs_are_consistent():
    """The 12 OneHand10K / Panoptic configs: channels match the grouping, weights are the
    original's, the data is the CPM baseline's, the limb targets' keypoints are packed."""
    from poseforge.utils.config import load_config
    paths = sorted((ROOT / 'configs' / 'nsrm').glob('nsrm_*-368.py'))
    assert len(paths) == 12
    cpm = {ds: load_config(str(ROOT / 'configs' / 'cpm' / f'cpm_vgg19_{ds}-368.py'))
           for ds in ('onehand10k', 'panoptic-hand')}
    seen = set()
    for path in paths:
        cfg = load_config(str(path))
        head, backbone = cfg.model.head, cfg.model.backbone
        mask, grouping = path.name.split('_')[1].split('-')
        dataset = path.name.split('_')[2][:-len('-368.py')]
        assert head.mask_type == mask
        assert head.grouping.replace('&', 'and').lower() == grouping
        assert backbone.limb_channels == num_limb_maps(head.grouping)
        built = MODELS.build(head)
        assert built.limb_weight == ORIGINAL_LIMB_WEIGHTS[mask, built.grouping]
        if built.grouping == 'G1&6':
            assert built.g6_weight == 0.2
        baseline = cpm[dataset]
        assert cfg.train_dataloader.dataset.type == baseline.train_dataloader.dataset.type
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[loader].dataset.ann_file == baseline[loader].dataset.ann_file
            assert strip_packing(cfg[loader].dataset.pipeline) == \
                strip_packing(baseline[loader].dataset.pipeline), (path.name, loader)
        pack = cfg.train_dataloader.dataset.pipeline[-1]
        assert pack.type == 'PackPoseInputs'
        assert 'transformed_keypoints' in pack.get('meta_keys', DEFAULT_META_KEYS)
        assert cfg.train_cfg.max_epochs == 80 and cfg.optim_wrapper.optimizer.lr == 1e-4
        assert dict(type='LimbWeightDecayHook', interval=20, ratio=0.1) in cfg.custom_hooks
        seen.add((mask, built.grouping, dataset))
    assert len(seen) == 12


# --------------------------------------------------------------------------- training
@pytest.mark.slow
def test_light_synthetic_config_trains_and_lowers_the_loss(tiny_synth, tmp_path):
    from poseforge.engine.runner import PoseRunner
    from poseforge.utils.config import load_config
    opts = tiny_cfg_options(tiny_synth, **{
        'train_dataloader.dataset.indices': 8, 'train_cfg.max_epochs': 2,
        'train_cfg.val_begin': 100, 'custom_hooks.1.interval': 1,
        'default_hooks.checkpoint.interval': 100, 'default_hooks.checkpoint.save_last': False})
    cfg = load_config(str(SYNTH_CONFIG), opts)
    cfg.work_dir = str(tmp_path / 'work')
    runner = PoseRunner.from_cfg(cfg)
    model = runner.model
    assert isinstance(model.backbone, NSRM) and isinstance(model.head, NSRMHead)
    batch = next(iter(runner.train_dataloader))
    # the estimator hands NSRMHead the batch: limb targets from the exact packed keypoints
    assert all('transformed_keypoints' in m for m in batch['data_samples']['meta'])

    def fixed_batch_losses() -> dict[str, float]:
        model.train()  # BatchNorm on batch statistics: deterministic for a fixed batch
        with torch.no_grad():
            data = model.data_preprocessor(batch, True)
            return {k: float(v) for k, v in model(**data, mode='loss').items()}

    before = fixed_batch_losses()
    runner.train()
    after = fixed_batch_losses()
    assert after['loss_kpt'] < before['loss_kpt']
    bce = ['bce_stage1', 'bce_stage2', 'bce_stage3']
    assert sum(after[k] for k in bce) < sum(before[k] for k in bce)
    # interval 1: the second epoch (index 1) trained with w * 0.1 ** 2
    assert model.head.limb_weight_scale == pytest.approx(0.01)
    assert all(math.isfinite(v) for v in after.values())
