"""SIA-GCN: spatial graph refinement of CPM maps (identity, edge semantics, shapes, training)."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.registry import DefaultScope

import poseforge.models  # noqa: F401  (registers the estimator, head, losses, CPM)
from poseforge.datasets.collate import pose_collate
from poseforge.models import spatial_graph
from poseforge.models.backbones.cpm import CPM
from poseforge.models.backbones.sia_gcn import SIAGCN, GraphRefinement
from poseforge.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[1]
LIGHT_CONFIG = ROOT / 'configs' / 'sia_gcn' / 'sia-gcn_light_synth-hands-128.py'
VGG19_CONFIG = ROOT / 'configs' / 'sia_gcn' / 'sia-gcn_vgg19_368.py'



def training_batch(config: Path, data_root: Path, num: int = 4) -> tuple[Config, dict]:
    """The config, and one collated batch of its train pipeline on the tiny generated hands."""
    cfg = Config.fromfile(str(config))
    np.random.seed(0)  # the train pipeline's augmentation draws from numpy
    random.seed(0)
    with DefaultScope.overwrite_default_scope('poseforge'):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(data_root)))
        batch = pose_collate([dataset[i] for i in range(num)])
    return cfg, batch


def test_zero_kernels_leave_the_maps_unchanged():
    torch.manual_seed(0)
    maps = torch.rand(2, 21, 12, 10)  # confidence maps: non-negative
    for rounds in (1, 2, 3):
        graph = GraphRefinement([(0, 1), (1, 2)] + [(0, k) for k in range(3, 21)], 21,
                                num_rounds=rounds, kernel_size=7)
        assert torch.count_nonzero(graph.kernels) == 0  # the default initialisation
        assert torch.equal(graph(maps), maps)
    graph = GraphRefinement([(0, 1)], 21, kernel_init_std=0.1)
    assert not torch.allclose(graph(maps), maps)  # non-zero kernels do change them


def test_sia_gcn_starts_as_its_cpm_plus_an_identity_refinement():
    torch.manual_seed(0)
    model = SIAGCN(arch='light_s8', num_keypoints=21).eval()
    cpm = CPM(arch='light_s8', num_keypoints=21).eval()
    cpm.load_state_dict(model.cpm.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outputs, reference = model(x), cpm(x)
    assert len(outputs) == len(reference) + 1 == 4
    for got, want in zip(outputs, reference):
        assert torch.equal(got, want)
    # node features are confidence maps, ReLU(last stage); zero kernels keep them as they are
    assert torch.equal(outputs[-1], reference[-1].relu())


def test_edge_kernel_moves_the_senders_map_to_the_receiver():
    """Limb (0, 1), kernel of 0 -> 1 a unit delta at c + (dy, dx) = c + (1, 2); 1 -> 0 zero."""
    graph = GraphRefinement([(0, 1)], num_keypoints=2, num_rounds=1, kernel_size=5,
                            normalize=False)
    with torch.no_grad():
        graph.kernels[0, 0, 2 + 1, 2 + 2] = 1.0
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, 3, 2] = 0.8
    maps[0, 1, 6, 6] = 0.5
    out = graph(maps)
    expected = maps.clone()
    expected[0, 1, 4, 4] = 0.8  # node 0's peak, moved by (1, 2) into node 1's map
    assert torch.equal(out, expected)
    # normalised: node 1 has incoming mass 1 -> divided by 2; node 0 gets a zero kernel -> 1
    graph.normalize = True
    normalised = graph(maps)
    assert torch.equal(normalised[0, 0], maps[0, 0])
    assert torch.allclose(normalised[0, 1], expected[0, 1] / 2)


def test_one_grouped_convolution_per_round(monkeypatch):
    calls = []
    conv2d = spatial_graph.F.conv2d

    def counting_conv2d(*args, **kwargs):
        calls.append(kwargs.get('groups'))
        return conv2d(*args, **kwargs)

    monkeypatch.setattr(spatial_graph.F, 'conv2d', counting_conv2d)
    graph = SIAGCN(arch='light_s8').graph
    graph(torch.rand(3, 21, 16, 16))
    assert calls == [40, 40]  # two rounds, each one conv over the 40 directed edges


def test_vgg19_variant_forward_backward_at_paper_shape():
    cfg = Config.fromfile(str(VGG19_CONFIG))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, SIAGCN) and model.backbone.graph.kernels.shape == (
        2, 40, 7, 7)
    inputs = torch.randint(0, 256, (1, 3, 368, 368), dtype=torch.uint8)
    target = torch.zeros(1, 21, 46, 46)
    target[0, torch.arange(21), torch.arange(21) + 10, 23] = 1.0
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=dict(
        heatmaps=target, keypoint_weights=torch.ones(1, 21))), True)
    stages = model.backbone(data['inputs'])
    assert [tuple(s.shape) for s in stages] == [(1, 21, 46, 46)] * 7
    losses = model.head.loss(stages, target, torch.ones(1, 21))
    assert set(k for k in losses if k.startswith('mse_stage')) == {
        f'mse_stage{i}' for i in range(1, 8)}
    losses['loss_kpt'].backward()
    kernels_grad = model.backbone.graph.kernels.grad
    assert kernels_grad is not None and torch.isfinite(kernels_grad).all()
    assert kernels_grad.abs().sum() > 0
    assert model.backbone.cpm.trunk[0].weight.grad.abs().sum() > 0


def test_light_config_training_lowers_the_loss(tiny_synth):
    cfg, batch = training_batch(LIGHT_CONFIG, tiny_synth, num=3)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim_wrapper.optimizer.lr)
    losses = []
    for _ in range(8):
        loss_dict = model(**model.data_preprocessor(batch, True), mode='loss')
        optimizer.zero_grad()
        loss_dict['loss_kpt'].backward()
        optimizer.step()
        losses.append(loss_dict['loss_kpt'].item())
    assert losses[-1] < 0.7 * losses[0], losses
    assert model.backbone.graph.kernels.abs().sum() > 0  # the graph kernels did learn
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(batch), mode='predict')
    assert len(results) == 3 and results[0]['pred_keypoints'].shape == (21, 2)
