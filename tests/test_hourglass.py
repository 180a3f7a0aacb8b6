"""Stacked hourglass: the authors' parameter counts, shapes, intermediate supervision."""
from __future__ import annotations

import pytest
import torch

import poseforge.models  # noqa: F401  (registers the models)
from poseforge.models.backbones.hourglass import StackedHourglass
from poseforge.registry import MODELS

#: zhengli97/OKDHP ``lib/models/hourglass.py`` (NUM_FEATURES 256, NUM_BLOCKS 1), built and
#: counted outside the project: {joints: {stacks: parameters}}.
AUTHORS_PARAMETERS = {16: {2: 6_730_912, 4: 13_018_816, 8: 25_594_624},
                      17: {2: 6_731_682, 4: 13_020_612, 8: 25_598_472}}


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('joints', [16, 17])
def test_parameter_counts_equal_the_authors_code(joints):
    for stacks, expected in AUTHORS_PARAMETERS[joints].items():
        with torch.device('meta'):  # no memory, no init: shapes only
            model = MODELS.build(dict(type='StackedHourglass', num_stacks=stacks,
                                      num_keypoints=joints))
        assert count(model) == expected, (joints, stacks)


def test_every_stack_outputs_quarter_resolution_heatmaps_and_odd_sizes_line_up():
    model = StackedHourglass(num_stacks=3, num_keypoints=5, channels=32, depth=3).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 48))
        odd = model(torch.randn(1, 3, 72, 40))  # 18 x 10 features: 9 x 5 after a pool
    assert [tuple(o.shape) for o in outs] == [(2, 5, 16, 12)] * 3
    assert [tuple(o.shape) for o in odd] == [(1, 5, 18, 10)] * 3
    # the last stack has no remap convs (nothing follows it), the others do
    assert model.stacks[-1].last and not hasattr(model.stacks[-1], 'fc_remap')
    assert all(hasattr(s, 'fc_remap') for s in model.stacks[:-1])


def test_estimator_supervises_every_stack():
    estimator = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='StackedHourglass', num_stacks=2, num_keypoints=3, channels=16,
                      depth=2),
        head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'))))
    inputs = torch.randn(2, 3, 32, 32)
    losses = estimator(inputs, dict(heatmaps=torch.rand(2, 3, 8, 8),
                                    keypoint_weights=torch.ones(2, 3)), mode='loss')
    assert set(losses) >= {'loss_kpt', 'mse_stage1', 'mse_stage2'}
    assert torch.isclose(losses['loss_kpt'], losses['mse_stage1'] + losses['mse_stage2'])
    losses['loss_kpt'].backward()
    first_stack = estimator.backbone.stacks[0].score.weight.grad
    assert first_stack is not None and first_stack.abs().sum() > 0


def test_hourglass_configs_run_channels_last_and_that_layout_computes_the_same():
    """The hourglass configs make their inputs channels_last (the whole network then runs in
    that layout, the fast one for a CPU training step); outputs and gradients equal NCHW's."""
    from poseforge.utils.config import load_config
    for name in ('hourglass/hourglass2_mpii-256', 'hourglass/hourglass4_mpii-256',
                 'hourglass/hourglass2_coco-256x192', 'okdhp/okdhp_hg2_mpii-256'):
        model = load_config(f'configs/{name}.py').model
        model = model.get('student', model)  # OKDHP adopts its student's preprocessor
        assert model.data_preprocessor.channels_last is True, name
    torch.manual_seed(0)
    # float64: training-mode BatchNorm on a tiny batch amplifies float32 summation-order noise
    model = StackedHourglass(num_stacks=2, num_keypoints=4, channels=16, depth=2).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    outs, grads = [], []
    for layout in (torch.contiguous_format, torch.channels_last):
        model.zero_grad()
        out = model(x.contiguous(memory_format=layout))
        sum(o.square().sum() for o in out).backward()
        outs.append(out)
        grads.append(model.stem[0].weight.grad.clone())
    assert outs[1][-1].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-7)
