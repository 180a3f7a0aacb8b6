"""Teacher -> student losses on hand-made tensors, against direct numpy computations.

Each loss is computed here again from its definition (docstrings of
poseforge/distillers/kd/losses/*.py), with masking and temperature; each is zero when the
student's tensor equals the teacher's (where that holds). Also: weight schedules, mixup's
weights, heatmap resampling between grids, keypoint maps, global magnitude pruning."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from poseforge.codecs import MSRAHeatmap
from poseforge.distillers.kd.geometry import KeypointMap, resample_to_student
from poseforge.distillers.kd.losses import (AMDLoss, FeatureKDLoss, HeadSharingKDLoss,
                                            HeatmapKDLoss, KDContext)
from poseforge.distillers.kd.mixup import MixupKD
from poseforge.distillers.kd.pruning import (apply_masks_to_state, collapsed_layers,
                                             global_magnitude_prune, make_permanent,
                                             sparsity_of)
from poseforge.distillers.kd.schedules import WeightSchedule
from poseforge.utils.config import ConfigError


def context(student_maps=None, teacher_maps=None, weights=None, records=None,
            teacher_weights=None) -> KDContext:
    """A KDContext over given tensors: the teacher already on the student's grid."""
    records = records or {}
    return KDContext(
        student_heatmaps=student_maps, teacher_heatmaps=teacher_maps,
        teacher_on_student=teacher_maps, kd_weights=weights,
        teacher_kd_weights=weights if teacher_weights is None else teacher_weights,
        student_input=(32, 32), teacher_input=(32, 32), read=lambda spec: records[spec],
        to_student_grid=lambda maps, size: resample_to_student(maps, (32, 32), (32, 32), size),
        map_keypoints=lambda maps: maps)


def np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- heatmap KD
@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    s = rng.random((2, 3, 4, 5)).astype(np.float32)
    t = rng.random((2, 3, 4, 5)).astype(np.float32)
    w = np.array([[1, 0, 1], [0.5, 1, 0]], np.float32)
    return s, t, w


def test_heatmap_mse_is_the_keypoint_weighted_mean_of_squared_errors(maps):
    s, t, w = maps
    expected = ((s - t) ** 2).mean(axis=(2, 3)) * w  # (B, K)
    loss = HeatmapKDLoss(mode='mse')(context(torch.tensor(s), torch.tensor(t), torch.tensor(w)))
    assert loss.item() == pytest.approx(expected.mean(), rel=1e-6)
    # a joint with weight 0 teaches nothing, however wrong the student is there
    s2 = s.copy()
    s2[0, 1] += 100
    loss2 = HeatmapKDLoss(mode='mse')(context(torch.tensor(s2), torch.tensor(t), torch.tensor(w)))
    assert loss2.item() == pytest.approx(loss.item(), rel=1e-6)
    same = HeatmapKDLoss(mode='mse')(context(torch.tensor(t), torch.tensor(t), torch.tensor(w)))
    assert same.item() == 0.0


@pytest.mark.parametrize('tau', [1.0, 0.5, 4.0])
def test_heatmap_kl_is_tau_squared_spatial_softmax_kl_masked(maps, tau):
    s, t, w = maps
    p_t = np_softmax(t.reshape(2, 3, -1) / tau)
    p_s = np_softmax(s.reshape(2, 3, -1) / tau)
    kl = (p_t * (np.log(p_t) - np.log(p_s))).sum(-1)  # (B, K)
    expected = (kl * w).mean() * tau ** 2
    loss = HeatmapKDLoss(mode='kl', tau=tau)(
        context(torch.tensor(s), torch.tensor(t), torch.tensor(w)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    same = HeatmapKDLoss(mode='kl', tau=tau)(
        context(torch.tensor(t), torch.tensor(t), torch.tensor(w)))
    assert abs(same.item()) < 1e-7


def test_heatmap_kd_config_errors():
    with pytest.raises(ConfigError, match="mode must be one of"):
        HeatmapKDLoss(mode='l1')
    with pytest.raises(ConfigError, match="must contain 'loss'"):
        HeatmapKDLoss(name='hm')
    with pytest.raises(ConfigError, match="must start with 'teacher.'"):
        HeatmapKDLoss(teacher='student.backbone')


# --------------------------------------------------------------------------- feature KD
def test_feature_kd_is_aligned_sum_of_squares_over_batch():
    rng = np.random.default_rng(1)
    fs = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    ft = rng.standard_normal((2, 5, 4, 4)).astype(np.float32)
    loss = FeatureKDLoss(student='student.a', teacher='teacher.b', student_channels=3,
                         teacher_channels=5, weight=1.0)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    with torch.no_grad():
        loss.align.weight.copy_(torch.tensor(w).reshape(5, 3, 1, 1))
        loss.align.bias.copy_(torch.tensor(b))
    aligned = np.einsum('oc,bchw->bohw', w, fs) + b[None, :, None, None]
    expected = ((aligned - ft) ** 2).sum() / 2
    ctx = context(records={'student.a': torch.tensor(fs), 'teacher.b': torch.tensor(ft)})
    assert loss(ctx).item() == pytest.approx(expected, rel=1e-5)
    # equal widths: no alignment conv (DWPose), and zero for equal maps
    plain = FeatureKDLoss(student='student.a', teacher='teacher.b', student_channels=5,
                          teacher_channels=5)
    assert plain.align is None
    ctx = context(records={'student.a': torch.tensor(ft), 'teacher.b': torch.tensor(ft)})
    assert plain(ctx).item() == 0.0


def test_feature_kd_resizes_the_student_to_the_teacher_grid_bilinearly():
    fs = torch.arange(16.0).reshape(1, 1, 4, 4)
    ft = torch.zeros(1, 1, 8, 8)
    loss = FeatureKDLoss(student='student.a', teacher='teacher.b', student_channels=1,
                         teacher_channels=1)
    up = torch.nn.functional.interpolate(fs, size=(8, 8), mode='bilinear', align_corners=False)
    ctx = context(records={'student.a': fs, 'teacher.b': ft})
    assert loss(ctx).item() == pytest.approx(up.square().sum().item(), rel=1e-6)
    assert loss(ctx).item() != pytest.approx(fs.square().sum().item() * 4)  # not nearest
    with pytest.raises(ConfigError, match='needs student= and teacher='):
        FeatureKDLoss(student='student.a')



def test_feature_kd_3x3_alignment_is_a_padded_3x3_convolution():
    rng = np.random.default_rng(6)
    fs = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    ft = rng.standard_normal((2, 4, 5, 4)).astype(np.float32)
    loss = FeatureKDLoss(student='student.a', teacher='teacher.b', student_channels=3,
                         teacher_channels=4, kernel_size=3, weight=1.0)
    w = loss.align.weight.detach().numpy()  # (4, 3, 3, 3)
    b = loss.align.bias.detach().numpy()
    padded = np.pad(fs, ((0, 0), (0, 0), (1, 1), (1, 1)))
    aligned = sum(np.einsum('oc,bchw->bohw', w[:, :, dy, dx], padded[:, :, dy:dy + 5, dx:dx + 4])
                  for dy in range(3) for dx in range(3)) + b[None, :, None, None]
    ctx = context(records={'student.a': torch.tensor(fs), 'teacher.b': torch.tensor(ft)})
    assert loss(ctx).item() == pytest.approx(((aligned - ft) ** 2).sum() / 2, rel=1e-5)
    with pytest.raises(ConfigError, match='kernel_size must be 1 or 3'):
        FeatureKDLoss(student='student.a', teacher='teacher.b', student_channels=3,
                      teacher_channels=4, kernel_size=5)

# --------------------------------------------------------------------------- head sharing
class _FakeDistiller(nn.Module):
    def __init__(self):
        super().__init__()
        self.teacher = nn.Module()
        self.teacher.head = nn.Conv2d(4, 2, kernel_size=1)
        self.teacher.requires_grad_(False)


def test_head_sharing_runs_the_frozen_teacher_head_on_adapted_student_features():
    rng = np.random.default_rng(2)
    fake = _FakeDistiller()
    loss = HeadSharingKDLoss(student='student.feat', teacher_head='teacher.head',
                             student_channels=3, weight=1.0)
    loss.setup(fake, probe=lambda: {})
    assert loss.head_channels == 4  # read from the head's conv
    head_w, head_b = fake.teacher.head.weight.detach().numpy()[:, :, 0, 0], \
        fake.teacher.head.bias.detach().numpy()
    ad_w, ad_b = loss.adapter.weight.detach().numpy()[:, :, 0, 0], \
        loss.adapter.bias.detach().numpy()
    feats = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    target = rng.random((2, 2, 4, 4)).astype(np.float32)
    weights = np.array([[1, 0], [1, 1]], np.float32)
    adapted = np.einsum('oc,bchw->bohw', ad_w, feats) + ad_b[None, :, None, None]
    out = np.einsum('oc,bchw->bohw', head_w, adapted) + head_b[None, :, None, None]
    expected = (((out - target) ** 2).mean(axis=(2, 3)) * weights).mean()
    feats_t = torch.tensor(feats, requires_grad=True)
    ctx = context(teacher_maps=torch.tensor(target), weights=torch.ones(2, 2),
                  teacher_weights=torch.tensor(weights), records={'student.feat': feats_t})
    value = loss(ctx)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert feats_t.grad is not None and loss.adapter.weight.grad is not None
    assert fake.teacher.head.weight.grad is None  # the teacher's head is frozen
    # the teacher's head is referenced, not owned: neither saved nor optimised with the loss
    assert all(not k.startswith('_head') for k in loss.state_dict())
    assert {id(p) for p in loss.parameters()} == {id(loss.adapter.weight), id(loss.adapter.bias)}


# --------------------------------------------------------------------------- AMD
def np_amd(fs: np.ndarray, ft: np.ndarray, s=64.0, m=1.35, gw=0.8, lw=0.2, eps=1e-7):
    def att(f):
        a = (f ** 2).sum(axis=1)  # (B, H, W)
        return a / (np.sqrt((a ** 2).sum(axis=(1, 2), keepdims=True)) + 1e-6)

    def parts(a):
        pos = s * np.cos(m * np.arccos(np.clip(a, -1 + eps, 1 - eps)))
        neg = s * (1 - a)
        return [pos - np.log(np.exp(pos) + np.exp(neg)), pos, neg]

    def norm(x):
        return x / np.maximum(np.sqrt((x ** 2).sum(axis=1, keepdims=True)), 1e-12)

    def dist(a_s, a_t):
        b = a_s.shape[0]
        return np.mean([((norm(ps.reshape(b, -1)) - norm(pt.reshape(b, -1))) ** 2).mean()
                        for ps, pt in zip(parts(a_s), parts(a_t))])

    a_s, a_t = att(fs.astype(np.float64)), att(ft.astype(np.float64))
    h, w = a_s.shape[1] // 2, a_s.shape[2] // 2
    quads = [(slice(None, h), slice(None, w)), (slice(None, h), slice(w, None)),
             (slice(h, None), slice(None, w)), (slice(h, None), slice(w, None))]
    local = np.mean([dist(a_s[:, r, c], a_t[:, r, c]) for r, c in quads])
    return gw * dist(a_s, a_t) + lw * local


@pytest.mark.parametrize('local_weight', [0.2, 0.0])
def test_amd_matches_a_direct_computation_global_and_quadrants(local_weight):
    rng = np.random.default_rng(3)
    fs = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    ft = rng.standard_normal((2, 7, 6, 6)).astype(np.float32)  # widths need not agree
    # s = 8: with the published s = 64 the float64 reference's exp() would overflow
    loss = AMDLoss(student='student.a', teacher='teacher.b', s=8.0, local_weight=local_weight)
    ctx = context(records={'student.a': torch.tensor(fs), 'teacher.b': torch.tensor(ft)})
    expected = np_amd(fs, ft, s=8.0, lw=local_weight)
    assert loss(ctx).item() == pytest.approx(expected, rel=1e-4)


def test_amd_is_zero_for_equal_or_scaled_features_and_finite_at_s64():
    rng = np.random.default_rng(4)
    ft = torch.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    loss = AMDLoss(student='student.a', teacher='teacher.b')  # s = 64, m = 1.35
    assert loss(context(records={'student.a': 3 * ft, 'teacher.b': ft})).item() < 1e-9
    other = torch.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    value = loss(context(records={'student.a': other, 'teacher.b': ft}))
    assert torch.isfinite(value) and value.item() > 0


# --------------------------------------------------------------------------- schedules
def test_weight_schedules():
    progress = dict(epoch=3, max_epochs=10, iter=30, max_iters=100)
    assert WeightSchedule.build(None)(progress) == 1.0
    assert WeightSchedule.build('linear_decay')(progress) == pytest.approx(0.7)  # DWPose
    assert WeightSchedule.build(dict(policy='linear_decay', end_factor=0.5))(progress) == \
        pytest.approx(1 - 0.5 * 0.3)
    assert WeightSchedule.build(dict(policy='warmup', length=4))(progress) == pytest.approx(0.75)
    assert WeightSchedule.build(dict(policy='warmup', length=20, by_epoch=False,
                                     start_factor=0.5))(progress) == 1.0
    assert WeightSchedule.build(dict(policy='linear_decay', by_epoch=False))(
        dict(progress, iter=25)) == pytest.approx(0.75)
    with pytest.raises(ConfigError, match="unknown loss schedule policy 'cosine'"):
        WeightSchedule.build('cosine')


# --------------------------------------------------------------------------- mixup
def test_mixup_mixes_a_fraction_and_splits_the_ground_truth_from_the_kd_weights():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 4)
    mix = MixupKD(alpha=1.0, ratio=0.5).mix(x)
    assert int(mix.mixed.sum()) == 3
    lam = mix.lam.reshape(-1, 1, 1, 1)
    assert torch.allclose(mix.inputs, lam * x + (1 - lam) * x[mix.partner])
    assert torch.equal(mix.inputs[~mix.mixed], x[~mix.mixed])
    assert bool((mix.partner[mix.mixed] != torch.arange(6)[mix.mixed]).all())
    weights = torch.tensor([[1.0, 0.0]] * 6)
    gt = MixupKD.gt_weights(weights, mix.mixed)
    assert torch.equal(gt[mix.mixed], torch.zeros(3, 2))          # no GT on mixed images
    assert torch.equal(gt[~mix.mixed], torch.tensor([[2.0, 0.0]] * 3))  # B / n_unmixed
    kd = MixupKD.kd_weights(weights, mix.mixed)
    assert torch.equal(kd[mix.mixed], torch.ones(3, 2))
    assert torch.equal(kd[~mix.mixed], weights[~mix.mixed])
    assert int(MixupKD(ratio=1.0).mix(x).mixed.sum()) == 5  # one stays for the ground truth
    assert int(MixupKD(ratio=1.0).mix(x, keep_one=False).mixed.sum()) == 6


# --------------------------------------------------------------------------- geometry
def test_resampling_is_exact_identity_on_equal_grids_and_moves_keypoints_correctly():
    maps = torch.rand(2, 3, 8, 8)
    assert torch.equal(resample_to_student(maps, (32, 32), (32, 32), (8, 8)), maps)
    # A teacher at 64 px (stride 2: 32x32 maps) that sees the student's 32 px crop resized,
    # resampled to the student's 8x8 grid, peaks where the student's codec puts the keypoint.
    student_codec = MSRAHeatmap(input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    teacher_codec = MSRAHeatmap(input_size=(64, 64), heatmap_size=(32, 32), sigma=4.0)
    kpt_s = np.array([[10.0, 21.0], [5.5, 7.25]], np.float32)  # student input px
    kpt_t = (kpt_s + 0.5) * 2 - 0.5                              # the resize's mapping
    teacher_maps = teacher_codec.encode(kpt_t, np.ones(2))['heatmaps']
    on_student = resample_to_student(torch.tensor(teacher_maps)[None], (64, 64), (32, 32),
                                     (8, 8))[0].numpy()
    decoded, _ = student_codec.decode(on_student)
    assert np.abs(decoded - kpt_s).max() < 0.6  # a quarter of a student heatmap pixel
    # the naive F.interpolate would be off by the half-pixel convention
    naive = torch.nn.functional.interpolate(torch.tensor(teacher_maps)[None], size=(8, 8),
                                            mode='bilinear', align_corners=False)[0].numpy()
    assert np.abs(student_codec.decode(naive)[0] - kpt_s).max() > \
        np.abs(decoded - kpt_s).max()


def test_keypoint_map_selects_and_masks():
    teacher = torch.arange(4.0).reshape(1, 4, 1, 1).expand(2, 4, 2, 2)
    kmap = KeypointMap([2, -1, 0], num_teacher=4, num_student=3)
    picked = kmap.select(teacher)
    assert picked[:, :, 0, 0].tolist() == [[2.0, 0.0, 0.0]] * 2
    assert kmap.mask(torch.ones(2, 3)).tolist() == [[1.0, 0.0, 1.0]] * 2
    with pytest.raises(ConfigError, match='outside 0..3'):
        KeypointMap([4], num_teacher=4)
    with pytest.raises(ConfigError, match='give keypoint_map'):
        KeypointMap(None, num_teacher=21, num_student=5)
    with pytest.raises(ConfigError, match='2 entries for a student with 3'):
        KeypointMap([0, 1], num_teacher=4, num_student=3)


# --------------------------------------------------------------------------- pruning
def test_global_magnitude_pruning_hits_the_sparsity_and_keeps_earlier_zeros():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1),
                        nn.Flatten(), nn.Linear(4, 2))
    total = sum(m.weight.numel() for m in net if isinstance(m, (nn.Conv2d, nn.Linear)))
    global_magnitude_prune(net, 0.5)
    state = apply_masks_to_state(net.state_dict())
    assert 'weight_orig' not in ' '.join(state) and '0.weight' in state
    stats = sparsity_of(state)
    assert stats['zeros'] == round(0.5 * total) and stats['total'] == total
    first_mask = state['0.weight'] == 0
    # one global threshold: the smallest magnitudes over all layers are the ones removed
    kept = torch.cat([state[k].flatten() for k in ('0.weight', '2.weight', '4.weight')])
    assert kept[kept != 0].abs().min() >= (kept[kept == 0].abs().max())
    make_permanent(net)
    assert not any(n.endswith('_orig') for n, _ in net.named_parameters())
    global_magnitude_prune(net, 0.75)  # the next round keeps the earlier zeros
    state = apply_masks_to_state(net.state_dict())
    assert bool((state['0.weight'][first_mask] == 0).all())
    assert sparsity_of(state)['zeros'] == round(0.75 * total)
    # BatchNorm is not pruned and not counted
    assert sparsity_of(state)['total'] == total


def test_a_small_output_layer_collapses_under_global_pruning_unless_excluded():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 16, 3), nn.Conv2d(16, 4, 1))
    nn.init.normal_(net[1].weight, std=0.001)  # a heatmap output conv's initialisation
    global_magnitude_prune(net, 0.5)
    state = apply_masks_to_state(net.state_dict())
    assert collapsed_layers(state) == ['1.weight']
    kept = nn.Sequential(nn.Conv2d(8, 16, 3), nn.Conv2d(16, 4, 1))
    nn.init.normal_(kept[1].weight, std=0.001)
    global_magnitude_prune(kept, 0.5, exclude=['1.weight'])
    state = apply_masks_to_state(kept.state_dict())
    assert collapsed_layers(state, exclude=['1.weight']) == []
    assert bool(state['1.weight'].all()) and sparsity_of(state, exclude=['1.weight'])['sparsity'] \
        == pytest.approx(0.5, abs=1e-3)


def test_teacher_predictions_map_back_through_the_resize_and_the_crop():
    from poseforge.distillers.kd.distiller import compose_affine, to_student_pixels
    rng = np.random.default_rng(5)
    crop_to_image = rng.standard_normal((2, 3))
    x_s = rng.uniform(0, 32, (10, 2))
    x_t = (x_s + 0.5) * np.array([64 / 32, 48 / 32]) - 0.5  # a 32x32 crop resized to 64 (w) x 48
    composed = compose_affine(crop_to_image, to_student_pixels((48, 64), (32, 32)))
    direct = x_s @ crop_to_image[:, :2].T + crop_to_image[:, 2]
    assert np.allclose(x_t @ composed[:, :2].T + composed[:, 2], direct)
