"""R-MGMN: rotation equivariance, kernel targets + BP conventions, staged training, shapes."""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.registry import DefaultScope
from torch import nn

import poseforge.models  # noqa: F401  (registers the estimator, losses, CPM)
from poseforge.codecs.msra_heatmap import MSRAHeatmap
from poseforge.datasets.collate import pose_collate
from poseforge.models.rmgmn.backbone import RMGMN
from poseforge.models.rmgmn.geometry import as_cos_sin, hand_angle, heatmap_centre, rotate_maps
from poseforge.models.rmgmn.head import RMGMNHead, kernel_targets
from poseforge.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs' / 'rmgmn'
STAGES = ('unary', 'pairwise', 'joint')



def light_config(stage: str) -> Path:
    return CONFIGS / f'rmgmn_light_synth-hands-128_{stage}.py'


def light_model(**kwargs) -> RMGMN:
    torch.manual_seed(0)
    return RMGMN(unary=dict(arch='light_s8'), kernel_size=11, **kwargs)


def angle_of(cos_sin: torch.Tensor) -> torch.Tensor:
    return torch.atan2(cos_sin[:, 1], cos_sin[:, 0])


def hand_keypoints() -> torch.Tensor:
    """A plausible 21-joint hand in a 16x16 map, tilted (cells, x y), as a (1, 21, 2) tensor."""
    rng = np.random.default_rng(0)
    wrist = np.array([8.0, 12.5])
    roots = wrist + np.array([[-3.0, -2.0], [-1.5, -4.0], [0.2, -4.5], [1.8, -4.0], [3.2, -3.2]])
    joints = [wrist]
    for root in roots:
        direction = (root - wrist) / np.linalg.norm(root - wrist)
        joints += [root + 1.1 * i * direction + rng.normal(0, 0.1, 2) for i in range(4)]
    points = np.stack(joints)
    tilt = 0.4  # rotate about the map centre so the hand is not upright
    c, s = math.cos(tilt), math.sin(tilt)
    centre = np.array([7.5, 7.5])
    points = (points - centre) @ np.array([[c, s], [-s, c]]) + centre
    return torch.tensor(points[None], dtype=torch.float32)


def gaussian_maps(keypoints: torch.Tensor, size: int = 16) -> torch.Tensor:
    codec = MSRAHeatmap(input_size=(size, size), heatmap_size=(size, size), sigma=1.0)
    return torch.from_numpy(codec.encode(keypoints[0].numpy())['heatmaps'])[None]


def keypoints_from_heatmaps(heatmaps: torch.Tensor) -> torch.Tensor:
    """Sub-pixel centres ``(B, K, 2)`` (cells) of Gaussian maps: the codec's decoding, no blur."""
    h, w = heatmaps.shape[-2:]
    codec = MSRAHeatmap(input_size=(w, h), heatmap_size=(w, h), blur_kernel_size=0)
    return codec.batch_decode(heatmaps)[0]


def batch_meta(keypoints: torch.Tensor, size: int, visible: torch.Tensor | None = None) -> dict:
    """``data_samples`` whose ``meta`` holds the exact keypoints (input px of a ``size`` crop)."""
    visible = torch.ones(keypoints.shape[:2]) if visible is None else visible
    return dict(meta=[dict(transformed_keypoints=k.numpy(), input_size=(size, size),
                           keypoints_visible=v.numpy()) for k, v in zip(keypoints, visible)])


def training_batch(config: Path, data_root: Path, num: int = 4) -> tuple[Config, dict]:
    """The config, and one collated batch of its train pipeline on the tiny generated hands."""
    cfg = Config.fromfile(str(config))
    np.random.seed(0)  # the train pipeline's augmentation draws from numpy
    random.seed(0)
    with DefaultScope.overwrite_default_scope('poseforge'):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(data_root)))
        batch = pose_collate([dataset[i] for i in range(num)])
    return cfg, batch


# --------------------------------------------------------------------------- rotation
def rot90_points(points: torch.Tensor, size: int) -> torch.Tensor:
    """Where ``torch.rot90(img, 1, (-2, -1))`` moves pixel ``(x, y)``: ``(y, size - 1 - x)``."""
    return torch.stack([points[..., 1], size - 1 - points[..., 0]], dim=-1)


def relative_error(got: torch.Tensor, want: torch.Tensor, border: int = 2) -> float:
    """Summed absolute difference away from the zero-padded border, relative to ``want``'s."""
    inner = (..., slice(border, -border), slice(border, -border))
    return ((got - want)[inner].abs().sum() / want[inner].abs().sum()).item()


def test_output_rotates_with_the_input_given_the_true_angle():
    """Crop turned a quarter (torch.rot90, exact) + the true angle: the same upright crop goes
    through the network, so the maps turn a quarter too: about the crop's centre in the codec's
    heatmap coordinates (``heatmap_centre``; rot90 of the maps plus a 7/8-cell shift)."""
    model = light_model().eval()
    torch.manual_seed(1)
    x = torch.randn(1, 3, 128, 128)
    x_rot = torch.rot90(x, 1, (-2, -1))  # counter-clockwise on screen

    keypoints = hand_keypoints() * 8
    theta = angle_of(hand_angle(keypoints)[0])
    theta_rot = angle_of(hand_angle(rot90_points(keypoints, 128))[0])
    assert torch.allclose(theta_rot, theta - math.pi / 2, atol=1e-5)  # ccw 90 deg: -90 deg

    with torch.no_grad():
        plain = model(x, angle=theta)
        turned = model(x_rot, angle=theta_rot)
        uncompensated = model(x_rot, angle=theta)
    quarter = as_cos_sin(torch.tensor([math.pi / 2]))
    centre = heatmap_centre((128, 128), (16, 16))
    for key in ('marginals', 'heatmaps'):
        maps = plain[key] if key == 'marginals' else plain[key][-1]
        got = turned[key] if key == 'marginals' else turned[key][-1]
        expected = rotate_maps(maps, quarter, centre=centre)  # a second bilinear resampling
        error = relative_error(got, expected)
        assert error < 0.2, key  # random-weight maps are rough: bilinear error ~0.03-0.12
        assert error < 0.5 * relative_error(got, torch.rot90(maps, 1, (-2, -1))), key
        # without the angle's compensation the maps do not simply turn: the test has teeth
        other = uncompensated[key] if key == 'marginals' else uncompensated[key][-1]
        assert relative_error(other, expected) > 0.4, key


class PerfectDetector(nn.Module):
    """Unary stand-in that finds image channel k's Gaussian dot (sub-pixel, exact for a
    Gaussian) and returns the codec's heatmap of it: what a perfectly trained network does."""

    def __init__(self, input_size: int, heatmap_size: int) -> None:
        super().__init__()
        self.find = MSRAHeatmap((input_size,) * 2, (input_size,) * 2, blur_kernel_size=0)
        self.encoder = MSRAHeatmap((input_size,) * 2, (heatmap_size,) * 2, sigma=1.0)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        points, _ = self.find.batch_decode(x)
        maps = [self.encoder.encode(p.numpy())['heatmaps'] for p in points]
        return [torch.from_numpy(np.stack(maps))]


def test_a_perfect_upright_detector_gives_exact_keypoints_at_any_angle():
    """Through the rotation upright and back, the codec's keypoints come out where they are
    in the crop, for the crop and its quarter turn. (Turning the maps back about their middle
    cell instead of ``heatmap_centre`` would be ~9 px off at this angle.)"""
    size = 128
    points = torch.tensor([[[70.0, 40.0], [45.0, 80.0], [30.0, 95.0]]])  # hand upside down
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)),
                            indexing='ij')
    image = torch.exp(-((xs - points[0, :, 0, None, None]) ** 2
                        + (ys - points[0, :, 1, None, None]) ** 2) / (2 * 3.0 ** 2))[None]
    model = RMGMN(unary=dict(arch='light_s8'), num_keypoints=3, limbs=[(0, 1), (1, 2)],
                  angle_joints=(0, 1), kernel_size=5, train_stage='unary').eval()
    model.unary = PerfectDetector(size, 16)
    decoder = MSRAHeatmap((size, size), (16, 16), sigma=1.0)
    for crop, truth in ((image, points), (torch.rot90(image, 1, (-2, -1)),
                                          rot90_points(points, size))):
        cos_sin, _ = hand_angle(truth, (0, 1))
        assert abs(angle_of(cos_sin).item()) > 2.0  # far from upright
        with torch.no_grad():
            maps = model(crop, angle=cos_sin)['heatmaps'][-1]
        found, _ = decoder.batch_decode(maps)
        assert (found - truth).norm(dim=-1).max() < 1.5, (found, truth)  # px, of 8 per cell


def test_rotating_by_the_hand_angle_turns_the_hand_upright():
    keypoints = hand_keypoints()
    maps = gaussian_maps(keypoints)
    cos_sin, valid = hand_angle(keypoints)
    assert valid.all() and abs(angle_of(cos_sin).item()) > 0.3  # tilted to begin with
    upright = rotate_maps(maps, cos_sin)
    found = keypoints_from_heatmaps(upright)
    up_cos_sin, _ = hand_angle(found)
    assert abs(angle_of(up_cos_sin).item()) < 0.05  # wrist -> middle root now points up
    back = rotate_maps(upright, cos_sin, inverse=True)
    np.testing.assert_allclose(keypoints_from_heatmaps(back)[0, :, :].numpy(),
                               keypoints[0].numpy(), atol=0.3)  # two bilinear resamplings


def test_teacher_forcing_rotates_by_the_ground_truth_angle():
    keypoints = hand_keypoints()
    model = light_model(teacher_forcing=True).train()
    x = torch.randn(1, 3, 128, 128)
    out = model(x, data_samples=batch_meta(keypoints * 8, 128))
    torch.testing.assert_close(out['angle'], hand_angle(keypoints)[0], atol=1e-4, rtol=0)
    unlabelled = torch.ones(1, 21)
    unlabelled[0, 9] = 0  # no middle-finger root: fall back to the prediction
    out = model(x, data_samples=batch_meta(keypoints * 8, 128, unlabelled))
    torch.testing.assert_close(out['angle'], out['angle_pred'].detach())
    with pytest.raises(ValueError, match='transformed_keypoints'):
        model(x)
    model.eval()  # inference uses the rotation net
    out = model(x)
    assert torch.equal(out['angle'], out['angle_pred'])


# --------------------------------------------------------------------------- kernels + BP
def test_gt_kernels_let_bp_recover_a_missing_joint():
    """Kernels = the head's targets from the true keypoints; one joint's unary is flat: its
    marginal must peak where the joint is (only the neighbours' messages can say so)."""
    keypoints = hand_keypoints()
    maps = gaussian_maps(keypoints)
    model = light_model(num_models=1)
    targets = kernel_targets(keypoints, model.edges, 11, sigmas=[1.0])
    for joint in (0, 6, 12, 20):  # wrist (5 neighbours), middle of a finger, tips
        unary = maps.clone()
        unary[0, joint] = 1.0
        marginals = model.mixed_marginals(unary, targets, torch.ones(1, 1))
        peak = keypoints_from_heatmaps(marginals)[0, joint]
        assert (peak - keypoints[0, joint]).norm() < 0.75, (joint, peak, keypoints[0, joint])


def test_kernel_targets_in_the_upright_frame():
    keypoints = hand_keypoints()
    cos_sin, _ = hand_angle(keypoints)
    c, s = cos_sin[0]
    centre = torch.tensor([7.5, 7.5])
    # upright positions: rotate by -angle about the centre, R(-a) = [[c, s], [-s, c]]
    rel = keypoints[0] - centre
    upright = torch.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], 1)
    upright = upright + centre
    assert abs(angle_of(hand_angle(upright[None])[0]).item()) < 1e-5
    edges = RMGMN(unary=dict(arch='light_s8'), kernel_size=11).edges
    torch.testing.assert_close(kernel_targets(keypoints, edges, 11, [1.0, 2.0], cos_sin),
                               kernel_targets(upright[None], edges, 11, [1.0, 2.0]),
                               atol=1e-5, rtol=0)
    # peak of the wrist -> middle-root kernel: straight up from the centre
    target = kernel_targets(keypoints, edges, 11, [1.0], cos_sin)[0, 0, edges.index((0, 9))]
    y, x = divmod(int(target.argmax()), 11)
    assert x == 5 and y < 5


def test_head_losses_vanish_for_perfect_outputs_and_follow_the_weights():
    keypoints = hand_keypoints()
    maps = gaussian_maps(keypoints)
    cos_sin, _ = hand_angle(keypoints)
    model = light_model()
    edges = model.edges
    kernels = kernel_targets(keypoints, edges, 11, [1.0, 2.0, 3.0], cos_sin)
    feats = dict(heatmaps=[maps, maps], marginals=maps / maps.sum((-2, -1), keepdim=True),
                 kernels=[kernels], mix_weights=torch.full((1, 3), 1 / 3), angle_pred=cos_sin,
                 angle=cos_sin)
    head = RMGMNHead()
    meta = batch_meta(keypoints * 8, 128)  # a 128 crop: 8 px per cell of the 16 grid
    losses = head.loss(feats, maps, torch.ones(1, 21), meta)
    for key in ('loss_unary', 'loss_marginal', 'loss_kernel', 'loss_rotation'):
        assert losses[key].item() == pytest.approx(0.0, abs=1e-9), key
    assert losses['angle_error_deg'].item() < 0.1 and losses['acc_pose'].item() == 1.0

    wrong = dict(feats, angle_pred=torch.tensor([[0.0, 1.0]]), kernels=[kernels.flip(-1)])
    losses = RMGMNHead(unary_weight=0, marginal_weight=0).loss(wrong, maps, torch.ones(1, 21),
                                                               meta)
    assert set(k for k in losses if 'loss' in k) == {'loss_kernel', 'loss_rotation'}
    assert losses['loss_kernel'] > 0 and losses['loss_rotation'] > 0.3
    with pytest.raises(ValueError, match='2 kernel_sigmas for a pool of 3'):
        RMGMNHead(kernel_sigmas=(1.0, 2.0)).loss(feats, maps, data_samples=meta)
    with pytest.raises(ValueError, match='RMGMNHead needs the ground-truth keypoints'):
        head.loss(feats, maps)


# --------------------------------------------------------------------------- staged training
def test_train_stages_freeze_the_right_parts():
    for stage in STAGES:
        cfg = Config.fromfile(str(light_config(stage)))
        model = MODELS.build(cfg.model).train()
        backbone = model.backbone
        assert backbone.train_stage == stage
        grads = {name: all(p.requires_grad for p in part.parameters())
                 for name, part in (('unary', backbone.unary), ('rotation', backbone.rotation_net),
                                    ('pairwise', backbone.pairwise), ('mixer', backbone.mixer))}
        expected = dict(unary=dict(unary=True, rotation=True, pairwise=False, mixer=False),
                        pairwise=dict(unary=False, rotation=False, pairwise=True, mixer=True),
                        joint=dict(unary=True, rotation=True, pairwise=True, mixer=True))[stage]
        assert grads == expected, stage
        frozen_training = {m.training for name, m in (('unary', backbone.unary),
                                                      ('pairwise', backbone.pairwise))
                           if not expected[name]}
        assert frozen_training <= {False}  # frozen BatchNorms keep their statistics
    unary_stage = light_model(train_stage='unary').eval()
    with torch.no_grad():
        out = unary_stage(torch.randn(1, 3, 64, 64))
    assert out['marginals'] is None and out['kernels'] == []
    with pytest.raises(ValueError, match="train_stage must be one of"):
        light_model(train_stage='both')


def test_vgg19_variant_forward_backward_at_paper_shape():
    cfg = Config.fromfile(str(CONFIGS / 'rmgmn_vgg19_368.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    keypoints = hand_keypoints() * (46 / 16)
    target = gaussian_maps(keypoints, size=46)
    inputs = torch.randint(0, 256, (1, 3, 368, 368), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=dict(
        heatmaps=target, keypoint_weights=torch.ones(1, 21))), True)
    out = model.backbone(data['inputs'])
    assert [tuple(m.shape) for m in out['heatmaps']] == [(1, 21, 46, 46)] * 6
    assert tuple(out['marginals'].shape) == (1, 21, 46, 46)
    assert [tuple(k.shape) for k in out['kernels']] == [(1, 3, 40, 45, 45)] * 6
    losses = model.head.loss(out, target, torch.ones(1, 21), batch_meta(keypoints * 8, 368))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    backbone = model.backbone
    for name, part in (('unary', backbone.unary), ('pairwise', backbone.pairwise),
                       ('mixer', backbone.mixer), ('rotation', backbone.rotation_net)):
        grads = [p.grad for p in part.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_light_joint_training_lowers_the_loss(tiny_synth):
    cfg, batch = training_batch(light_config('joint'), tiny_synth, num=3)
    cfg.model.head.update(unary_weight=1.0, kernel_weight=1.0)  # every term at once
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for _ in range(6):
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append({k: v.item() for k, v in losses.items() if 'loss' in k})
    first, last = history[0], history[-1]
    assert set(first) == {'loss_unary', 'loss_marginal', 'loss_kernel', 'loss_rotation'}
    assert sum(last.values()) < 0.7 * sum(first.values())
    assert last['loss_marginal'] < first['loss_marginal']
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(batch), mode='predict')
    assert len(results) == 3 and np.isfinite(results[0]['pred_keypoints']).all()
