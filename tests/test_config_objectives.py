"""Each model trains under the objective its paper states, so that the rows of a comparison
table train under one keypoint objective: the CPM family's heatmap MSE summed over the keypoint
maps (sum / (B*H*W) per stage), and R-MGMN's normalised-marginal term weighed back to the
unary term's scale."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.config import Config

import dump_configs  # tools/dump_configs.py (conftest puts tools/ on the path)
import poseforge.models  # noqa: F401  (registers the models)
from conftest import ROOT
from poseforge.codecs.msra_heatmap import MSRAHeatmap
from poseforge.models.rmgmn.head import RMGMNHead

#: backbones whose papers train the CPM heatmap MSE (CPM, NSRM on it, SIA-GCN on it)
CPM_FAMILY = ('CPM', 'NSRM', 'SIAGCN')


def resolved_models() -> dict[str, dict]:
    return {str(p.relative_to(ROOT)): Config.fromfile(str(p)).to_dict()
            for p in dump_configs.leaf_configs(ROOT)}


@pytest.fixture(scope='module')
def configs() -> dict[str, dict]:
    return resolved_models()


def test_every_2d_cpm_family_config_sums_the_mse_over_keypoints(configs) -> None:
    checked = []
    for name, cfg in configs.items():
        model = cfg.get('model') or {}
        if (model.get('type') == 'TopdownPoseEstimator'
                and model['backbone']['type'] in CPM_FAMILY):
            loss = model['head']['loss']
            assert loss == dict(type='KeypointMSELoss', keypoint_reduction='sum'), name
            checked.append(name)
    assert len(checked) >= 25  # the CPM, NSRM, SIA-GCN, quick-start, sim2real, teacher configs
    assert 'configs/cpm/cpm_vgg19_synth-hands-256.py' in checked


def test_rmgmn_marginal_weight_is_the_square_of_its_target_mass(configs) -> None:
    """The marginal term compares maps that sum to 1; its weight is the squared mass of the
    config's own Gaussian target (2 pi sigma^2 cells), so both terms count a relative error
    alike."""
    weighted = 0
    for name, cfg in configs.items():
        head = (cfg.get('model') or {}).get('head') or {}
        if head.get('type') != 'RMGMNHead' or not head.get('marginal_weight'):
            continue
        codec = MSRAHeatmap(**{k: v for k, v in cfg['codec'].items() if k != 'type'})
        w, h = codec.heatmap_size
        centre = np.array([[[w / 2 * codec.input_size[0] / w,
                             h / 2 * codec.input_size[1] / h]]], np.float32)
        mass = float(codec.encode(centre)['heatmaps'][0].sum())
        assert head['marginal_weight'] == pytest.approx(mass ** 2, rel=0.01), name
        weighted += 1
    assert weighted >= 4  # pairwise, joint, one-stage, the VGG19 one


def test_weighted_marginal_and_unary_terms_agree_for_the_same_relative_error() -> None:
    """At the configs' weight, a 10 % error on every map costs the same in both terms (at
    weight 1 the marginal term was ~40x smaller and barely trained)."""
    codec = MSRAHeatmap((128, 128), (16, 16), sigma=1.0)
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(24, 104, (2, 21, 2)).astype(np.float32)
    maps = torch.from_numpy(np.stack([codec.encode(k[None])['heatmaps'] for k in keypoints]))
    normalised = maps / maps.sum((-2, -1), keepdim=True)
    feats = dict(heatmaps=[0.9 * maps], marginals=0.9 * normalised)
    weights = torch.ones(2, 21)
    plain = RMGMNHead(unary_weight=1.0, marginal_weight=1.0, kernel_weight=0.0,
                      rotation_weight=0.0).loss(feats, maps, weights)
    ratio = (plain['loss_unary'] / plain['loss_marginal']).item()
    assert 35 < ratio < 45  # the imbalance the scale fixes
    scaled = RMGMNHead(unary_weight=1.0, marginal_weight=39.5, kernel_weight=0.0,
                       rotation_weight=0.0).loss(feats, maps, weights)
    assert scaled['loss_marginal'].item() == pytest.approx(scaled['loss_unary'].item(), rel=0.05)
