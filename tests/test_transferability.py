"""Transferability from attribution maps (poseforge/analysis/attribution.py,
tools/transferability.py): the maps equal gradient x input / saliency computed by hand on a tiny
model, the affinity is the mean cosine similarity, and the tool writes the matrix, the ranking
and the plot."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from forked_tool import run_tool
from protect_common import random_checkpoint, tiny_config_text, tiny_model_cfg

from poseforge.analysis.attribution import (affinity_matrix, attribution_maps,
                                            estimator_heatmaps, rank_candidates)
from poseforge.registry import MODELS


def test_attribution_of_a_1x1_conv_equals_the_hand_computed_gradient_x_input():
    """heatmaps = W x + b (a 1x1 conv, 2 keypoints): the gradient of sum_k max_p H_k(p) is
    W[k, c] at each keypoint's peak pixel and 0 elsewhere."""
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(2, 3, 1, 1, generator=gen))
        conv.bias.copy_(torch.randn(2, generator=gen))
    x = torch.randn(2, 3, 4, 5, generator=gen)
    w = conv.weight[:, :, 0, 0].detach().numpy()
    grad = np.zeros((2, 3, 4, 5))
    with torch.no_grad():
        maps = conv(x).numpy()
    for b in range(2):
        for k in range(2):
            r, c = np.unravel_index(np.argmax(maps[b, k]), (4, 5))
            grad[b, :, r, c] += w[k]
    want_gxi = (grad * x.numpy()).sum(1)
    want_sal = np.abs(grad).max(1)
    got_gxi = attribution_maps(conv, x, 'gradient_x_input').numpy()
    got_sal = attribution_maps(conv, x, 'saliency').numpy()
    assert np.allclose(got_gxi, want_gxi, atol=1e-6)
    assert np.allclose(got_sal, want_sal, atol=1e-6)
    assert x.grad is None  # the caller's tensor is left alone


def test_attribution_of_an_estimator_equals_autograds_gradient_x_input():
    init_default_scope('poseforge')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    with torch.no_grad():
        model.backbone.final_layer.weight.normal_(std=0.3)
    x = torch.randn(2, 3, 32, 32)
    leaf = x.clone().requires_grad_(True)
    heatmaps = model.head.predict(model(leaf, mode='tensor'))
    objective = heatmaps.flatten(2).max(-1).values.sum()
    (grad,) = torch.autograd.grad(objective, leaf)
    got = attribution_maps(estimator_heatmaps(model), x, 'gradient_x_input')
    assert torch.allclose(got, (grad * x).sum(1), atol=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_affinity_is_the_mean_cosine_and_the_ranking_follows_it():
    a = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])      # 2 images of 1x2 maps
    b = torch.tensor([[[1.0, 1.0]], [[0.0, 2.0]]])      # cos 1/sqrt2, 1
    c = torch.tensor([[[-1.0, 0.0]], [[1.0, 0.0]]])     # cos -1, 0 with a
    names, aff = affinity_matrix(dict(a=a, b=b, c=c))
    assert names == ['a', 'b', 'c']
    assert aff[0, 1] == pytest.approx((1 / np.sqrt(2) + 1) / 2)
    assert aff[0, 2] == pytest.approx(-0.5)
    assert aff[1, 2] == pytest.approx((-1 / np.sqrt(2) + 0) / 2)
    assert np.allclose(aff, aff.T) and np.allclose(np.diag(aff), 1)
    assert [n for n, _ in rank_candidates(names, aff, 'a')] == ['b', 'c']
    with pytest.raises(ValueError, match="target 'd'"):
        rank_candidates(names, aff, 'd')


def test_transferability_tool_writes_matrix_ranking_and_plot(tiny_synth, tmp_path):
    pairs = []
    for seed in (1, 2, 3):
        ckpt = random_checkpoint(tmp_path / f'm{seed}.pth', seed=seed)
        config = tmp_path / f'm{seed}.py'
        config.write_text(tiny_config_text(f'dict(_delete_=True, **{tiny_model_cfg()!r})',
                                           tiny_synth))
        pairs += [str(config), str(ckpt)]
    out = tmp_path / 'out'
    result = run_tool('transferability', *pairs, '--probe', str(tiny_synth), '--names', 'x',
                      'y', 'z', '--target', 'y', '--num-images', '4', '--out-dir', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / 'affinity.json').read_text())
    aff = np.array(data['affinity'])
    assert data['names'] == ['x', 'y', 'z'] and data['num_images'] == 4
    assert np.allclose(aff, aff.T) and np.allclose(np.diag(aff), 1)
    ranking = [r['model'] for r in data['ranking']]
    assert sorted(ranking) == ['x', 'z']
    assert np.allclose([r['affinity'] for r in data['ranking']],
                       sorted([aff[1, 0], aff[1, 2]], reverse=True), atol=1e-6)
    assert (out / 'transferability.png').stat().st_size > 10_000
    assert '| 1 |' in (out / 'ranking.md').read_text()
    bad = run_tool('transferability', pairs[0], '--probe', str(tiny_synth))
    assert bad.returncode == 2 and 'CONFIG CKPT pairs' in bad.stderr
