"""CPM backbone, heatmap loss/head, data preprocessor and top-down estimator."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import poseforge.models  # noqa: F401  (registers the models)
from poseforge.models import (CPM, KeypointMSELoss, MultiStageHeatmapHead, PoseDataPreprocessor,
                              TopdownPoseEstimator)
from poseforge.models.backbones.cpm import VGG19_NUM_FEATURE_LAYERS
from poseforge.models.utils import flip_heatmaps, heatmap_pck_accuracy
from poseforge.registry import KEYPOINT_CODECS, MODELS


# --------------------------------------------------------------------------- helpers
@KEYPOINT_CODECS.register_module(name='_TestArgmaxCodec', force=True)
class ArgmaxCodec:
    """Stand-in for MSRAHeatmap.batch_decode: integer argmax, scaled to input px."""

    def __init__(self, input_size=(64, 64), heatmap_size=(16, 16)) -> None:
        self.scale = torch.tensor([input_size[0] / heatmap_size[0],
                                   input_size[1] / heatmap_size[1]])

    def batch_decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        b, k, h, w = heatmaps.shape
        values, flat = heatmaps.flatten(2).max(dim=2)
        xy = torch.stack([flat % w, flat // w], dim=-1).float()
        return xy * self.scale.to(heatmaps.device), values


class FixedMaps(nn.Module):
    """Backbone stand-in: the same heatmaps for every input (plus a dummy parameter)."""

    def __init__(self, maps: Tensor) -> None:
        super().__init__()
        self.register_buffer('maps', maps)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> list[Tensor]:
        return [self.maps.expand(x.shape[0], -1, -1, -1) + 0 * self.dummy]


class PoolChannels(nn.Module):
    """Backbone stand-in: keypoint k's map is input channel k average-pooled by 4."""

    def __init__(self, num_keypoints: int = 2) -> None:
        super().__init__()
        self.k = num_keypoints

    def forward(self, x: Tensor) -> list[Tensor]:
        return [nn.functional.avg_pool2d(x[:, :self.k], 4)]


def gaussian(h: int, w: int, cx: float, cy: float, sigma: float = 1.0) -> Tensor:
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing='ij')
    return torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))


def light_estimator(num_keypoints: int = 21, **test_cfg) -> TopdownPoseEstimator:
    return MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='CPM', arch='light', num_keypoints=num_keypoints, num_stages=2),
        head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
                  decoder=dict(type='_TestArgmaxCodec', input_size=(64, 64),
                               heatmap_size=(16, 16))),
        test_cfg={'flip_test': False, **test_cfg}))


def tiny_batch(batch: int = 2, k: int = 21, size: int = 64, seed: int = 0) -> dict:
    """A collated batch (pose_collate layout) with Gaussian targets on the stride-4 grid."""
    g = torch.Generator().manual_seed(seed)
    hm = size // 4
    centres = torch.randint(2, hm - 2, (batch, k, 2), generator=g)
    heatmaps = torch.stack([torch.stack([gaussian(hm, hm, *centres[b, j].tolist())
                                         for j in range(k)]) for b in range(batch)])
    weights = torch.ones(batch, k)
    weights[0, 0] = 0
    meta = [dict(input_to_image=np.array([[1., 0, 0], [0, 1., 0]], np.float32),
                 flip_indices=list(range(k)), keypoints=np.zeros((k, 2), np.float32))
            for _ in range(batch)]
    return dict(inputs=torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8,
                                     generator=g),
                data_samples=dict(heatmaps=heatmaps, keypoint_weights=weights, meta=meta))


# --------------------------------------------------------------------------- CPM backbone
@pytest.fixture(scope='module')
def vgg19_cpm() -> CPM:
    torch.manual_seed(0)
    return CPM(arch='vgg19', num_keypoints=21).eval()


def test_cpm_vgg19_matches_nsrm_hand_cpm(vgg19_cpm: CPM) -> None:
    assert sum(p.numel() for p in vgg19_cpm.parameters()) == 36_799_806
    assert vgg19_cpm.stride == 8 and vgg19_cpm.feat_channels == 128
    with torch.no_grad():
        outputs = vgg19_cpm(torch.randn(1, 3, 368, 368))
    assert [tuple(o.shape) for o in outputs] == [(1, 21, 46, 46)] * 6


def test_cpm_loads_torchvision_vgg19_weights(vgg19_cpm: CPM, tmp_path) -> None:
    convs = {i: m for i, m in enumerate(vgg19_cpm.trunk[:VGG19_NUM_FEATURE_LAYERS])
             if isinstance(m, nn.Conv2d)}
    assert sorted(convs) == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25]  # vgg19.features
    state = {}
    for i, conv in convs.items():
        state[f'features.{i}.weight'] = torch.full_like(conv.weight, float(i))
        state[f'features.{i}.bias'] = torch.full_like(conv.bias, -float(i))
    state['classifier.6.bias'] = torch.zeros(1000)  # ignored
    path = tmp_path / 'vgg19.pth'
    torch.save(state, path)

    model = CPM(arch='vgg19', pretrained=str(path))
    for i in convs:
        assert torch.all(model.trunk[i].weight == i) and torch.all(model.trunk[i].bias == -i)
    assert not torch.all(model.trunk[27].weight == model.trunk[27].weight.flatten()[0])  # conv5_1

    state['features.10.weight'] = torch.zeros(256, 64, 3, 3)
    torch.save(state, path)
    with pytest.raises(ValueError, match='vgg19.pth.*features.10.weight'):
        CPM(arch='vgg19', pretrained=path)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        CPM(arch='vgg19', pretrained=tmp_path / 'missing.pth')
    with pytest.raises(ValueError, match="arch='vgg19'"):
        CPM(arch='light', pretrained=path)


def test_cpm_light_shapes_and_overrides() -> None:
    model = CPM(arch='light', num_keypoints=5, num_stages=4, stage_channels=32)
    outputs = model(torch.randn(2, 3, 64, 48))
    assert model.stride == 4
    assert [tuple(o.shape) for o in outputs] == [(2, 5, 16, 12)] * 4
    assert CPM(arch='light_s8', num_keypoints=5).stride == 8
    custom = CPM(arch=dict(trunk=[[8, 2], 'M', 16], stage1_channels=8, stage_channels=8,
                           stage_kernel=5, stage_dilations=[1, 2], num_stages=2),
                 num_keypoints=3)  # a config's lists, as mmengine hands them over
    assert custom.stride == 4 and custom.feat_channels == 16
    assert [tuple(o.shape) for o in custom(torch.randn(1, 3, 32, 32))] == [(1, 3, 8, 8)] * 2
    with pytest.raises(KeyError, match='light'):
        CPM(arch='nope')


# --------------------------------------------------------------------------- loss
def test_keypoint_mse_loss_hand_computed() -> None:
    pred = torch.tensor([[[[1., 0.], [0., 0.]], [[0., 2.], [0., 1.]]]])  # (1, 2, 2, 2)
    target = torch.zeros_like(pred)
    weights = torch.tensor([[1.0, 0.5]])
    # per keypoint sum / (B*H*W): k0 = 1/4, k1 = (4 + 1)/4 * 0.5; mean over the 2 keypoints
    expected = (1 / 4 + 0.5 * 5 / 4) / 2
    loss = KeypointMSELoss()(pred, target, weights)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected)
    assert KeypointMSELoss(use_target_weight=False, loss_weight=2.0)(
        pred, target, weights).item() == pytest.approx(2 * (1 / 4 + 5 / 4) / 2)

    zero_k1 = torch.tensor([[1.0, 0.0]])
    changed = pred.clone()
    changed[0, 1] = 100.0
    assert KeypointMSELoss()(changed, target, zero_k1).item() == pytest.approx(1 / 4 / 2)
    assert KeypointMSELoss()(pred.bfloat16(), target, weights).dtype == torch.float32
    # the CPM / NSRM papers' normalisation: sum / (B*H*W) summed over keypoints
    summed = KeypointMSELoss(keypoint_reduction='sum')(pred, target, weights)
    assert summed.item() == pytest.approx(1 / 4 + 0.5 * 5 / 4)
    with pytest.raises(ValueError, match='keypoint_reduction'):
        KeypointMSELoss(keypoint_reduction='none')


def test_head_losses_per_stage_and_accuracy() -> None:
    target = gaussian(8, 8, 3, 4)[None, None].repeat(2, 3, 1, 1)
    weights = torch.ones(2, 3)
    stages = [torch.zeros_like(target), target.clone()]
    head = MultiStageHeatmapHead(stage_weights=[2.0, 1.0])
    losses = head.loss(stages, target, weights)
    stage1 = KeypointMSELoss()(stages[0], target, weights)
    assert losses['mse_stage1'] == pytest.approx(stage1.item())
    assert losses['mse_stage2'].item() == 0
    assert losses['loss_kpt'].item() == pytest.approx(2 * stage1.item())
    assert losses['acc_pose'].item() == 1.0
    assert [k for k in losses if 'loss' in k] == ['loss_kpt']  # mmengine sums only these
    assert head.predict(stages) is stages[-1]
    with pytest.raises(ValueError, match='stage_weights'):
        head.loss(stages[:1], target, weights)


def test_heatmap_accuracy_ignores_invalid_keypoints() -> None:
    target = torch.stack([gaussian(16, 16, 4, 4), gaussian(16, 16, 10, 10)])[None]
    pred = torch.stack([gaussian(16, 16, 4, 4), gaussian(16, 16, 1, 12)])[None]
    assert heatmap_pck_accuracy(pred, target, torch.ones(1, 2)).item() == 0.5
    assert heatmap_pck_accuracy(pred, target, torch.tensor([[1.0, 0.0]])).item() == 1.0


# --------------------------------------------------------------------------- preprocessor
def test_data_preprocessor_normalises_and_keeps_meta() -> None:
    batch = tiny_batch(batch=2, k=3, size=32)
    pre = PoseDataPreprocessor(mean=(10., 20., 30.), std=(2., 4., 5.))
    out = pre(batch, training=True)
    expected = (batch['inputs'].float() - torch.tensor([10., 20., 30.]).reshape(1, 3, 1, 1)) \
        / torch.tensor([2., 4., 5.]).reshape(1, 3, 1, 1)
    assert out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'], expected)
    assert out['data_samples']['meta'] is batch['data_samples']['meta']
    torch.testing.assert_close(out['data_samples']['heatmaps'], batch['data_samples']['heatmaps'])

    cl = PoseDataPreprocessor(channels_last=True)(batch)['inputs']
    assert cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(cl, PoseDataPreprocessor()(batch)['inputs'])


# --------------------------------------------------------------------------- estimator
def test_estimator_loss_gives_gradients_to_every_parameter() -> None:
    torch.manual_seed(0)
    model = light_estimator()
    data = model.data_preprocessor(tiny_batch(), True)
    losses = model(**data, mode='loss')
    assert {'loss_kpt', 'mse_stage1', 'mse_stage2', 'acc_pose'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    losses['loss_kpt'].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    outputs = model(data['inputs'], mode='tensor')
    assert isinstance(outputs, list) and outputs[-1].shape == (2, 21, 16, 16)
    with pytest.raises(ValueError, match='mode'):
        model(data['inputs'], mode='nope')


def test_predict_maps_input_px_to_image_px() -> None:
    model = light_estimator(num_keypoints=2)
    maps = torch.stack([gaussian(16, 16, 5, 3), 0.5 * gaussian(16, 16, 10, 12)])[None]
    model.backbone = FixedMaps(maps)
    batch = tiny_batch(batch=2, k=2, size=64)
    metas = batch['data_samples']['meta']
    metas[0]['input_to_image'] = np.array([[2., 0., 100.], [0., 2., 50.]], np.float32)
    metas[1]['input_to_image'] = np.array([[0.5, 0., -3.], [0., 0.5, 7.]], np.float32)
    results = model.val_step(batch)

    assert len(results) == 2
    # peaks at cells (5, 3) and (10, 12) -> input px x4 -> each sample's affine
    np.testing.assert_allclose(results[0]['pred_keypoints'], [[140, 74], [180, 146]])
    np.testing.assert_allclose(results[1]['pred_keypoints'], [[7, 13], [17, 31]])
    assert results[0]['pred_keypoints'].dtype == np.float32
    np.testing.assert_allclose(results[1]['pred_scores'], [1.0, 0.5])
    assert results[0]['keypoints'] is metas[0]['keypoints']  # meta passes through
    assert 'pred_heatmaps' not in results[0]


def test_flip_test_averages_mirrored_prediction() -> None:
    # content-dependent model: the flipped pass really sees the mirrored input
    model = light_estimator(num_keypoints=2, flip_test=True)
    model.backbone = PoolChannels(2)
    x = torch.zeros(1, 3, 64, 64)
    x[0, 0, 8:12, 4:8] = 1.0  # keypoint 0 -> cell (1, 2) = input px (4, 8)
    x[0, 1, 40:44, 20:24] = 1.0  # keypoint 1 -> cell (5, 10) = (20, 40)
    samples = dict(meta=[dict(flip_indices=[1, 0], input_to_image=np.eye(2, 3))])
    # the mirror's maps: keypoint 0 at (56, 8), keypoint 1 at (40, 40) (its own px); mapped
    # back with x -> 63 - x and the pairs swapped: keypoint 0 <- (23, 40), 1 <- (7, 8)
    out = model.predict_keypoints(x, samples)
    torch.testing.assert_close(out['keypoints'], torch.tensor([[[13.5, 24.0], [13.5, 24.0]]]))
    model.test_cfg['flip_indices'] = [0, 1]  # no pairs: each keypoint with its own mirror
    torch.testing.assert_close(model.predict_keypoints(x)['keypoints'],
                               torch.tensor([[[5.5, 8.0], [21.5, 40.0]]]))
    pooled = nn.functional.avg_pool2d(x[:, :2], 4)
    torch.testing.assert_close(flip_heatmaps(flip_heatmaps(pooled, [1, 0]), [1, 0]), pooled)
    model.test_cfg.pop('flip_indices')
    with pytest.raises(ValueError, match='flip_indices'):
        model.predict_heatmaps(x, dict(meta=[{}]))


def test_predict_with_flip_test_keeps_symmetric_keypoints() -> None:
    m0 = gaussian(16, 16, 3, 6)
    model = light_estimator(num_keypoints=2, flip_test=True, output_heatmaps=True)
    model.backbone = FixedMaps(torch.stack([m0, m0.flip(-1)])[None])
    batch = tiny_batch(batch=1, k=2, size=64)
    batch['data_samples']['meta'][0]['flip_indices'] = [1, 0]
    result = model.test_step(batch)[0]
    # the same maps for the mirror: (12, 24) and (48, 24) there are (51, 24) and (15, 24) here
    np.testing.assert_allclose(result['pred_keypoints'], [[13.5, 24], [49.5, 24]])
    np.testing.assert_allclose(result['pred_keypoints_grid'], [[13.5, 24], [49.5, 24]])
    assert result['pred_heatmaps'].shape == (2, 16, 16)


def test_light_cpm_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    model = light_estimator(num_keypoints=4)
    batch = tiny_batch(batch=4, k=4, size=64, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        loss = model(**model.data_preprocessor(batch, True), mode='loss')['loss_kpt']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_train_step_with_optim_wrapper_autocast_and_channels_last() -> None:
    from mmengine.optim import OptimWrapper

    torch.manual_seed(0)
    model = light_estimator(num_keypoints=21)
    batch = tiny_batch()
    log_vars = model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), 0.01)))
    assert torch.isfinite(log_vars['loss'])
    assert log_vars['loss'].item() == pytest.approx(log_vars['loss_kpt'].item())

    # bf16 autocast on CPU (AmpOptimWrapper needs a GPU): losses stay float32, backward works
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        assert model(**model.data_preprocessor(batch), mode='tensor')[-1].dtype == torch.bfloat16
    assert losses['loss_kpt'].dtype == torch.float32
    losses['loss_kpt'].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        results = model.val_step(batch)
    assert np.isfinite(results[0]['pred_keypoints']).all()

    # channels_last model + inputs give the same losses
    model.eval()
    data = model.data_preprocessor(batch)
    reference = model(**data, mode='loss')['loss_kpt']
    model.to(memory_format=torch.channels_last)
    model.data_preprocessor.channels_last = True
    data = model.data_preprocessor(batch)
    outputs = model(data['inputs'], mode='tensor')
    assert outputs[-1].is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(**data, mode='loss')['loss_kpt'], reference,
                               rtol=1e-4, atol=1e-6)


def test_mm_distributed_data_parallel_train_and_val_step(tmp_path) -> None:
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip('gloo backend unavailable')
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "pg"}', rank=0,
                            world_size=1)
    try:
        torch.manual_seed(0)
        model = MMDistributedDataParallel(module=light_estimator())
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), 0.01))
        before = [p.detach().clone() for p in model.parameters()]
        log_vars = model.train_step(tiny_batch(), wrapper)
        assert torch.isfinite(log_vars['loss'])
        assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
        assert len(model.val_step(tiny_batch())) == 2
    finally:
        dist.destroy_process_group()


def test_real_msra_codec_round_trip_when_available() -> None:
    """Through the shared codec: encode a keypoint, decode via the estimator, map to image."""
    KEYPOINT_CODECS.import_from_location()
    if KEYPOINT_CODECS.get('MSRAHeatmap') is None:
        pytest.skip('MSRAHeatmap codec not written yet')
    codec_cfg = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
    codec = KEYPOINT_CODECS.build(codec_cfg)
    keypoints = np.array([[20.0, 12.0], [41.0, 30.0]], np.float32)
    encoded = codec.encode(keypoints, np.ones(2, np.float32))
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', backbone=dict(type='CPM', arch='light', num_keypoints=2),
        head=dict(type='MultiStageHeatmapHead', decoder=codec_cfg)))
    model.backbone = FixedMaps(torch.as_tensor(encoded['heatmaps'])[None])
    batch = tiny_batch(batch=1, k=2, size=64)
    batch['data_samples']['meta'][0]['input_to_image'] = np.array([[2., 0., 100.],
                                                                    [0., 2., 50.]])
    result = model.val_step(batch)[0]
    np.testing.assert_allclose(result['pred_keypoints'], keypoints * 2 + [100, 50], atol=1.0)
