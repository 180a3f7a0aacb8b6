"""OKDHP: FAU, the KL term, the ramp-up, the ensemble, branch layouts, export round trip."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from conftest import ROOT

import poseforge  # noqa: F401  (registers models and distillers)
from poseforge.distillers import FeatureAggregationUnit, OKDHPDistiller
from poseforge.distillers.losses import joints_kl_loss, sigmoid_rampup, spatial_softmax_kl
from poseforge.models.backbones.hourglass import StackedHourglass
from poseforge.registry import MODELS
from poseforge.utils.config import load_config

K = 4
CODEC = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)


def student_cfg(num_stacks: int = 2) -> dict:
    return dict(type='TopdownPoseEstimator',
                backbone=dict(type='StackedHourglass', num_stacks=num_stacks, num_keypoints=K,
                              channels=16, depth=2),
                head=dict(type='MultiStageHeatmapHead',
                          loss=dict(type='KeypointMSELoss', loss_weight=0.5), decoder=CODEC),
                test_cfg=dict(flip_test=True, flip_indices=[1, 0, 2, 3]))


def distiller(num_stacks: int = 2, **kwargs) -> OKDHPDistiller:
    init_default_scope('poseforge')
    return MODELS.build(dict(type='OKDHPDistiller', student=student_cfg(num_stacks), **kwargs))


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def batch(b: int = 2, seed: int = 0) -> tuple[torch.Tensor, dict]:
    g = torch.Generator().manual_seed(seed)
    weights = torch.ones(b, K)
    weights[0, 1] = 0  # one invisible joint
    return (torch.randn(b, 3, 32, 32, generator=g),
            dict(heatmaps=torch.rand(b, K, 8, 8, generator=g), keypoint_weights=weights))


@pytest.fixture
def epoch():
    """Set the runner's epoch in the current message hub (what OKDHP's ramp reads)."""
    hub = MessageHub.get_current_instance()
    previous = hub.get_info('epoch', None)

    def set_epoch(value: int) -> None:
        hub.update_info('epoch', value)
    yield set_epoch
    hub.update_info('epoch', previous if previous is not None else 0)


# --------------------------------------------------------------------------- FAU
@pytest.mark.parametrize('avg_pool', [False, True])
def test_fau_weights_are_positive_and_sum_to_one_over_branches_per_joint(avg_pool):
    torch.manual_seed(0)
    fau = FeatureAggregationUnit(in_channels=8, num_branches=3, num_keypoints=5, mid_channels=4,
                                 avg_pool=avg_pool)
    weights = fau(torch.randn(2, 8, 6, 6) * 5)
    assert weights.shape == (2, 3, 5)
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2, 5))
    assert weights.std() > 1e-4  # not trivially uniform
    # the authors' layers: 3x3/5x5/7x7 conv+BN (C -> C), Linear(C, 64), one Linear(64, K) each
    authors = FeatureAggregationUnit(in_channels=256, num_branches=3, num_keypoints=16)
    convs = sum(256 * 256 * k * k + 256 + 2 * 256 for k in (3, 5, 7))
    assert count(authors) == convs + (256 * 64 + 64) + 3 * (64 * 16 + 16)


# --------------------------------------------------------------------------- losses
def test_ramp_values():
    assert sigmoid_rampup(0, 90) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(45, 90) == pytest.approx(math.exp(-1.25))
    assert sigmoid_rampup(90, 90) == 1.0
    assert sigmoid_rampup(200, 90) == 1.0
    assert sigmoid_rampup(3, 0) == 1.0


def _numpy_kl(pred: np.ndarray, target: np.ndarray, tau: float = 1.0) -> np.ndarray:
    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    b, k = pred.shape[:2]
    p = softmax(pred.reshape(b, k, -1).astype(np.float64) / tau)
    q = softmax(target.reshape(b, k, -1).astype(np.float64) / tau)
    return (q * np.log(q / p)).sum(-1)


def test_spatial_kl_on_hand_made_heatmaps_matches_numpy():
    pred = np.zeros((2, 2, 3, 4), np.float32)
    target = np.zeros((2, 2, 3, 4), np.float32)
    pred[0, 0, 1, 1], pred[0, 1, 2, 3], pred[1, 0, 0, 0], pred[1, 1, 1, 2] = 3, 1, 2, 4
    target[0, 0, 1, 2], target[0, 1, 2, 3], target[1, 0, 2, 1], target[1, 1, 1, 2] = 3, 2, 5, 1
    weights = np.array([[1, 0], [1, 1]], np.float32)
    # OKDHP's JointsKLDLoss: weights multiply both maps, sum of the KLs / (B * H * W)
    masked = weights[:, :, None, None]
    expected = _numpy_kl(pred * masked, target * masked).sum() / (2 * 3 * 4)
    got = joints_kl_loss(torch.from_numpy(pred), torch.from_numpy(target),
                         torch.from_numpy(weights))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert _numpy_kl(pred * masked, target * masked)[0, 1] == 0  # weight 0: two uniform maps
    # temperature: per-joint KL of the softened maps
    for tau in (1.0, 2.5):
        np.testing.assert_allclose(
            spatial_softmax_kl(torch.from_numpy(pred), torch.from_numpy(target), tau).numpy(),
            _numpy_kl(pred, target, tau), rtol=1e-5, atol=1e-7)


def test_kd_term_scales_with_kd_weight_and_ramp(epoch):
    inputs, samples = batch()
    losses = {}
    for kd_weight in (2.0, 5.0):
        torch.manual_seed(0)  # the same network for both weights
        model = distiller(kd_weight=kd_weight, rampup_epochs=90)
        for e in (0, 45, 90, 120):
            epoch(e)
            losses[kd_weight, e] = model(inputs, samples, mode='loss')
    for (kd_weight, e), out in losses.items():
        ramp = math.exp(-5 * (1 - min(e, 90) / 90) ** 2)
        assert out['kd_ramp'].item() == pytest.approx(ramp, rel=1e-6)
        assert out['loss_kd'].item() == pytest.approx(kd_weight * ramp * out['kd_kl'].item(),
                                                      rel=1e-5)
        assert out['kd_kl'].item() == pytest.approx(losses[2.0, 0]['kd_kl'].item(), rel=1e-5)
    ratio = (losses[5.0, 45]['loss_kd'] / losses[2.0, 45]['loss_kd']).item()
    assert ratio == pytest.approx(2.5, rel=1e-5)
    assert losses[2.0, 45]['kd_kl'] > 0


def test_loss_sums_the_authors_terms_on_every_output(epoch):
    epoch(90)  # ramp 1
    torch.manual_seed(0)
    model = distiller(num_stacks=3, branch_stacks=2, kd_weight=2.0, ens_weight=1.5)
    inputs, samples = batch()
    losses = model(inputs, samples, mode='loss')
    torch.manual_seed(1)
    out = model.forward_branches(inputs)  # the same weights, eval-independent (train mode)
    target, weights = samples['heatmaps'], samples['keypoint_weights']

    def mse(o):  # JointsMSELoss: 0.5 x masked mean
        return 0.5 * (((o - target) ** 2).mean(dim=(-2, -1)) * weights).mean()
    every = out.shared + [o for outs in out.branches for o in outs]
    assert len(out.shared) == 1 and len(every) == 1 + 3 * 2
    expected = (sum(mse(o) for o in every) + 1.5 * mse(out.ensemble)
                + 2.0 * sum(joints_kl_loss(o, out.ensemble, weights) for o in every))
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)


# --------------------------------------------------------------------------- ensemble
def test_identical_branches_give_zero_kl_and_the_ensemble_equals_each_branch(epoch):
    epoch(90)
    torch.manual_seed(0)
    model = distiller(num_stacks=1, branch_stacks=1)  # only the stem shared, one stack each
    own = model.branches[0].backbone.stacks[0].state_dict()
    for branch in model.branches[1:]:
        branch.backbone.stacks[0].load_state_dict(own)
    inputs, samples = batch()
    out = model.forward_branches(inputs)
    for outs in out.branches:
        torch.testing.assert_close(out.ensemble, outs[-1], rtol=1e-5, atol=1e-6)
    losses = model(inputs, samples, mode='loss')
    assert losses['kd_kl'].abs().item() < 1e-7 and losses['loss_kd'].abs().item() < 1e-7


def test_ensemble_weighs_every_branchs_last_stack(epoch):
    torch.manual_seed(0)
    model = distiller(num_stacks=3, branch_stacks=2)  # 1 shared, 2 stacks per branch
    out = model.forward_branches(batch()[0])
    assert [len(b) for b in out.branches] == [2, 2, 2]
    expected = sum(out.weights[:, b, :, None, None] * out.branches[b][-1] for b in range(3))
    torch.testing.assert_close(out.ensemble, expected)
    # the authors' out[-3:] (branch 2's last, branch 3's first and last) is something else
    flat = out.shared + [o for outs in out.branches for o in outs]
    authors = sum(out.weights[:, i, :, None, None] * flat[-3 + i] for i in range(3))
    assert not torch.allclose(authors, out.ensemble)


# --------------------------------------------------------------------------- layouts
def test_balanced_and_unbalanced_branches_share_the_trunk():
    model = distiller(num_stacks=4, branch_stacks=[3, 2, 1])
    assert model.num_shared_stacks == 1
    assert [len(b.backbone.stacks) for b in model.branches] == [4, 3, 2]
    trunk = model.branches[0].backbone
    for branch in model.branches[1:]:
        assert branch.backbone.stem is trunk.stem
        assert branch.backbone.stacks[0] is trunk.stacks[0]
        assert branch.backbone.stacks[1] is not trunk.stacks[1]
    plain = {d: count(StackedHourglass(d, K, channels=16, depth=2)) for d in (2, 3, 4)}
    for branch, depth in zip(model.branches, (4, 3, 2)):
        assert count(branch) == plain[depth]  # every branch is a plain hourglass
    stem_and_shared = count(trunk.stem) + count(trunk.stacks[0])
    own = sum(count(b) - stem_and_shared for b in model.branches)
    assert count(model) == stem_and_shared + own + count(model.fau)  # shared weights once
    with pytest.raises(ValueError, match='branch 0 owns'):
        distiller(num_stacks=2, branch_stacks=3)


def test_a_wrong_fau_input_path_names_the_closest_paths():
    from poseforge.distillers import ModulePathError
    with pytest.raises(ModulePathError, match=r"'branches\.0\.backbone\.stm'.*"
                                              r"branches\.0\.backbone\.stem"):
        distiller(fau=dict(input='branches.0.backbone.stm'))


# --------------------------------------------------------------------------- export
def test_exported_branch_predicts_what_it_predicted_inside_the_distiller():
    torch.manual_seed(0)
    model = distiller(num_stacks=3, branch_stacks=[2, 1, 2])
    inputs, samples = batch(4)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):  # non-trivial weights and BatchNorm statistics
        loss = sum(v for k, v in model(inputs, samples, mode='loss').items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    for branch, depth in ((0, 3), (1, 2), (2, 3)):
        state, cfg = model.export_student(branch)
        assert cfg['backbone']['num_stacks'] == depth
        plain = MODELS.build(cfg)
        plain.load_state_dict(state, strict=True)
        plain.eval()
        with torch.no_grad():
            diff = (plain(inputs, mode='tensor')[-1] - model.branch_heatmaps(inputs, branch))
        assert diff.abs().max().item() < 1e-5
        assert count(plain) == count(StackedHourglass(depth, K, channels=16, depth=2))
        model.predict_with = f'branch{branch}'
        with torch.no_grad():
            inside = model(inputs, None, mode='predict')
            alone = plain(inputs, None, mode='predict')
        np.testing.assert_allclose(np.stack([r['pred_keypoints'] for r in inside]),
                                   np.stack([r['pred_keypoints'] for r in alone]), atol=1e-4)
    # the ensemble evaluates through the student's own prediction path (flip test included)
    model.predict_with = 'ensemble'
    with torch.no_grad():
        ens = model(inputs, None, mode='predict')
    assert ens[0]['pred_keypoints'].shape == (K, 2)
    model.predict_with = 'teacher'
    with pytest.raises(ValueError, match="'teacher' is not one of student, ensemble"):
        model(inputs, None, mode='predict')


# --------------------------------------------------------------------------- configs
CONFIG_STACKS = {'mpii-256': 16, 'coco-256x192': 17}
#: the published augmentation: (rotation factor in degrees, scale factor)
AUGMENTATION = {'mpii-256': (30.0, 0.25), 'coco-256x192': (40.0, 0.3)}
AUTHORS_PARAMETERS = {16: {2: 6_730_912, 4: 13_018_816, 8: 25_594_624},
                      17: {2: 6_731_682, 4: 13_020_612, 8: 25_598_472}}


@pytest.mark.parametrize('dataset', sorted(CONFIG_STACKS))
def test_published_configs_build_the_published_networks(dataset):
    joints = CONFIG_STACKS[dataset]
    init_default_scope('poseforge')
    for stacks in (2, 4, 8):
        base = load_config(str(ROOT / f'configs/hourglass/hourglass{stacks}_{dataset}.py'))
        okd = load_config(str(ROOT / f'configs/okdhp/okdhp_hg{stacks}_{dataset}.py'))
        for cfg in (base, okd):  # the published schedule, batch, augmentation, test-time flip
            assert cfg.optim_wrapper.optimizer.type == 'Adam'
            assert cfg.optim_wrapper.optimizer.lr == 2.5e-4
            assert cfg.param_scheduler[0].milestones == [90, 120]
            assert cfg.param_scheduler[0].gamma == pytest.approx(0.1)
            assert cfg.train_cfg.max_epochs == 150 and cfg.train_dataloader.batch_size == 16
            box = [s for s in cfg.train_dataloader.dataset.pipeline
                   if s['type'] == 'RandomBBoxTransform']
            assert len(box) == 1, cfg.filename
            assert (box[0]['rotate_factor'], box[0]['scale_factor']) == AUGMENTATION[dataset]
            if dataset.startswith('coco'):  # evaluated on the ground-truth boxes
                assert not cfg.val_dataloader.dataset.get('bbox_file')
                assert not cfg.test_dataloader.dataset.get('bbox_file')
        # the student of OKDHP is exactly the baseline; 3 branches owning the last 2 stacks
        assert okd.model.student.to_dict() == base.model.to_dict()
        assert (okd.model.num_branches, okd.model.branch_stacks) == (3, 2)
        with torch.device('meta'):
            plain = MODELS.build(base.model)
        assert plain.test_cfg['flip_test']
        assert count(plain) == AUTHORS_PARAMETERS[joints][stacks]
    with torch.device('meta'):  # the last one built (8 stacks): 6 shared + 3 x 2
        multi = MODELS.build(okd.model)
    assert multi.num_shared_stacks == 6 and multi.kd_weight == 2.0
    assert multi.rampup_epochs == 90 and not multi.detach_ensemble
    assert count(multi.student_estimator()) == count(plain)


@pytest.mark.parametrize('detach', [False, True])
def test_detach_ensemble_stops_the_kd_gradient_into_the_fau(epoch, detach):
    epoch(90)
    torch.manual_seed(0)
    model = distiller(detach_ensemble=detach)
    losses = model(*batch(), mode='loss')
    losses['loss_kd'].backward()
    fau_grad = sum(p.grad.abs().sum() for p in model.fau.parameters() if p.grad is not None)
    branch_grad = model.branches[1].backbone.stacks[-1].score.weight.grad.abs().sum()
    assert branch_grad > 0  # the branches learn from the ensemble either way
    assert (fau_grad == 0) == detach  # the authors' (not detached) also trains the FAU by KD
