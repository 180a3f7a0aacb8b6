"""The shipped 3D hand and DGGAN configs as a user runs them: each dataset's own training
pipeline on the real RHD, STB and MHP files (DGGAN's augmentation: no flip, no box jitter, each
colour channel scaled by U(0.8, 1.2); relative-depth targets; the depth map at the model's
depth size where the dataset ships depth), the 3D estimator's configs on the same recipe, and
the four DGGAN stage configs of every dataset chained checkpoint to checkpoint with the
optimisers their stage steps."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from conftest import ROOT
from test_hand3d_datasets import stb_root

from poseforge.registry import DATASETS
from poseforge.utils.config import load_config

DGGAN = ROOT / 'configs' / 'dggan'
HAND3D = ROOT / 'configs' / 'hand3d'
STAGES = ('stage1-pose', 'stage2-regularizer', 'stage3-gan', 'stage4-joint')
#: the networks each stage steps (the optimisers its config builds)
STAGE_NETWORKS = {'pose': {'pose_net'}, 'regularizer': {'regularizer'},
                  'gan': {'generator', 'discriminator'},
                  'joint': {'pose_net', 'generator', 'discriminator', 'regularizer'}}
DATASET_PREFIXES = ('cpm-light_synth-hands-128', 'cpm-vgg19_rhd-256', 'cpm-vgg19_stb-256',
                    'cpm-vgg19_mhp-256')


def _step(pipeline: list, kind: str) -> dict | None:
    return next((dict(t) for t in pipeline if t['type'] == kind), None)


# ----------------------------------------------------------------------------- real data
def rhd_with_depth(base: Path, fixtures: Path) -> Path:
    """The RHD fixture in the release layout (``color/``, ``depth/``) with a depth PNG per
    image in RHD's colour coding: a plane at the labelled wrist's depth."""
    import json
    ann = json.loads((fixtures / 'rhd' / 'test_rhd.json').read_text())
    wrist_z = {a['image_id']: float(a['joint_cam'][0][2]) for a in ann['annotations']}
    (base / 'color').mkdir(parents=True)
    (base / 'depth').mkdir()
    for image in ann['images']:
        (base / 'color' / image['file_name']).symlink_to(fixtures / 'rhd' / image['file_name'])
        code = int(round(wrist_z[image['id']] / 5000.0 * 65535))  # (R * 256 + G) / 65535 * 5 m
        bgr = np.zeros((image['height'], image['width'], 3), np.uint8)
        bgr[..., 2], bgr[..., 1] = code // 256, code % 256
        assert cv2.imwrite(str(base / 'depth' / image['file_name']), bgr)
    (base / 'test_rhd.json').symlink_to(fixtures / 'rhd' / 'test_rhd.json')
    return base


def stb_with_depth(base: Path, fixtures: Path) -> Path:
    """STB's layout (test_hand3d_datasets.stb_root) plus an SK depth PNG: a plane 400 mm in
    front of the depth camera, where the hand's palm centre lies."""
    root = stb_root(base, fixtures)
    bgr = np.zeros((480, 640, 3), np.uint8)
    bgr[..., 2], bgr[..., 1] = 400 % 256, 400 // 256  # R + 256 G mm
    for sequence in ('B1Counting', 'B1Random'):
        assert cv2.imwrite(str(root / 'images' / sequence / 'SK_depth_0.png'), bgr)
    return root


@pytest.fixture(scope='module')
def real_roots(fixtures_dir, tmp_path_factory) -> dict[str, dict]:
    """Dataset overrides that point each config's training set at the fixtures."""
    tmp = tmp_path_factory.mktemp('hand3d_configs')
    return {
        'rhd': dict(data_root=str(rhd_with_depth(tmp / 'rhd', fixtures_dir)),
                    ann_file='test_rhd.json', data_prefix=dict(img='color/')),
        'stb': dict(data_root=str(stb_with_depth(tmp / 'stb', fixtures_dir)), split='test'),
        'mhp': dict(data_root=str(fixtures_dir / 'mhp'), split=None, sequences=['data_1']),
    }


def first_train_sample(config: Path, overrides: dict) -> tuple[dict, object]:
    cfg = load_config(str(config))
    dataset_cfg = dict(cfg.train_dataloader.dataset)
    dataset_cfg.update(overrides)
    with DefaultScope.overwrite_default_scope('poseforge'):
        dataset = DATASETS.build(dataset_cfg)
        return dataset[0], cfg


@pytest.mark.parametrize('name', ['rhd', 'stb', 'mhp'])
def test_dggan_training_pipelines_run_on_the_real_datasets(name, real_roots):
    """DGGAN's stage-1 config (the shared data of all four stages) on the real files: DGGAN's
    augmentation, targets, and a depth map that holds the ground truth's depth (RHD, STB: a
    plane at the root's depth is 0.5 on the [0, 1] scale) or none (MHP ships no depth)."""
    sample, cfg = first_train_sample(DGGAN / f'dggan_cpm-vgg19_{name}-256_stage1-pose.py',
                                     real_roots[name])
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert _step(pipeline, 'RandomFlip') is None  # the early code trains without flips
    box = _step(pipeline, 'RandomBBoxTransform')
    assert box['shift_prob'] == box['scale_prob'] == box['rotate_prob'] == 0.0
    [noise] = _step(pipeline, 'PhotometricAug')['transforms']
    assert noise['type'] == 'MultiplicativeNoise' and tuple(noise['multiplier']) == (0.8, 1.2)
    assert noise['per_channel'] and not noise['elementwise']
    samples = {k: np.asarray(v) for k, v in sample['data_samples'].items() if k != 'meta'}
    assert tuple(sample['inputs'].shape) == (3, 256, 256)
    assert samples['heatmaps'].shape == (21, 32, 32)
    depth = samples['keypoint_depth']
    assert depth[0] == 0 and np.isfinite(depth).all() and 0 < np.abs(depth).max() < 4
    assert samples['pose_uvd'].shape == (21, 3)
    if name == 'mhp':
        assert 'depth_map' not in samples
        return
    assert tuple(cfg.model.depth_size) == (128, 128)
    depth_map = samples['depth_map'][0]
    assert depth_map.shape == (128, 128)
    u, v = (samples['pose_uvd'][0, :2] * 128).astype(int)  # the root joint's map pixel
    assert depth_map[v, u] == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize('name', ['rhd', 'stb', 'mhp'])
def test_colour_scaling_is_per_channel_within_the_range(name, real_roots):
    """With no geometric augmentation the training crop is the test crop, up to DGGAN's colour
    scaling: one factor per channel, each within [0.8, 1.2]."""
    sample, cfg = first_train_sample(HAND3D / f'hand3d_cpm-vgg19_{name}-256.py',
                                     real_roots[name])
    dataset_cfg = dict(cfg.train_dataloader.dataset, pipeline=cfg.test_dataloader.dataset.pipeline)
    dataset_cfg.update(real_roots[name])
    with DefaultScope.overwrite_default_scope('poseforge'):
        plain = DATASETS.build(dataset_cfg)[0]['inputs'].numpy().astype(np.float64)
    train = sample['inputs'].numpy().astype(np.float64)
    factors = []
    for c in range(3):
        usable = (plain[c] > 40) & (plain[c] < 180)  # neither dark nor saturated
        assert usable.sum() > 500
        factors.append(np.median(train[c][usable] / plain[c][usable]))
        # one factor for the whole channel (rounding to uint8 aside)
        assert np.abs(train[c][usable] - factors[-1] * plain[c][usable]).mean() < 1.5
    assert all(0.79 < f < 1.21 for f in factors), factors
    assert max(factors) - min(factors) > 1e-3, factors  # drawn per channel


def test_3d_estimator_configs_share_dggan_data_recipe():
    """``configs/hand3d`` trains the 3D estimator without the regulariser on DGGAN's data: the
    same pose network, the same annotation files and pipeline, less the depth map (and its
    loading), and the same evaluation."""
    for name in ('rhd', 'stb', 'mhp'):
        hand3d = load_config(str(HAND3D / f'hand3d_cpm-vgg19_{name}-256.py'))
        dggan = load_config(str(DGGAN / f'dggan_cpm-vgg19_{name}-256_stage4-joint.py'))
        assert hand3d.model.to_dict() == dggan.model.pose_net.to_dict(), name
        strip = [dict(t) for t in dggan.train_dataloader.dataset.pipeline
                 if t['type'] != 'LoadDepth']
        _step_target = next(t for t in strip if t['type'] == 'GenerateDepthTarget')
        _step_target['depth_map_size'] = None
        assert [dict(t) for t in hand3d.train_dataloader.dataset.pipeline] == strip, name
        assert hand3d.val_evaluator == dggan.val_evaluator
        for split in ('train', 'val', 'test'):  # the same hands, to train and to compare on
            hand3d_set, dggan_set = (dict(c[f'{split}_dataloader'].dataset.to_dict(),
                                          pipeline=None) for c in (hand3d, dggan))
            assert hand3d_set == dggan_set, (name, split)


# ----------------------------------------------------------------------------- stages
@pytest.mark.parametrize('prefix', DATASET_PREFIXES)
def test_stage_configs_chain_their_checkpoints(prefix):
    """Stage k loads stage k-1's last checkpoint (from the work dir tools/train.py gives
    it), steps the networks of its stage only, and builds the same model as the other stages
    (so every checkpoint loads strictly into the next)."""
    models, previous = [], None
    for stage, (kind, networks) in zip(STAGES, STAGE_NETWORKS.items()):
        name = f'dggan_{prefix}_{stage}'
        cfg = load_config(str(DGGAN / f'{name}.py'))
        assert cfg.model.stage == kind
        optimisers = set(cfg.optim_wrapper) - {'constructor', 'type'}
        assert optimisers == networks, (name, optimisers)
        if previous is None:
            assert cfg.get('load_from') is None
        else:
            assert cfg.load_from.startswith(f'work_dirs/{previous}/'), (name, cfg.load_from)
        depth_target = _step(cfg.train_dataloader.dataset.pipeline, 'GenerateDepthTarget')
        if _step(cfg.train_dataloader.dataset.pipeline, 'LoadDepth') is not None:
            assert tuple(depth_target['depth_map_size']) == tuple(cfg.model.depth_size)
        else:  # MHP's joint stage: generated depth only, so no discriminator step
            assert (prefix, kind) in (('cpm-vgg19_mhp-256', 'pose'),
                                      ('cpm-vgg19_mhp-256', 'joint'))
        models.append({k: v for k, v in cfg.model.to_dict().items() if k != 'stage'})
        previous = name
    assert all(m == models[0] for m in models[1:])
    # the joint stage's G loss: L_GAN + 10 task, the task L1 to the generated depth (paper)
    assert (models[0]['gan_weight'], models[0]['task_weight']) == (1.0, 10.0)
    assert models[0]['regularizer_target'] == 'generated'


def test_hand3d_table_stage_configs_load(tmp_path):
    """The configs tools/hand3d_table.py writes for its rows pass the config check."""
    import hand3d_table
    args = hand3d_table.parse_args(['--data-root', 'data/synth_hands', '--iters', '4'])
    configs = [(hand3d_table.CPM_CONFIG, True), (hand3d_table.HAND3D_CONFIG, True)]
    configs += [(hand3d_table.DGGAN_CONFIG.format(s), s in (STAGES[0], STAGES[3]))
                for s in STAGES]
    for i, (base, pose_lr) in enumerate(configs):
        path = hand3d_table.stage_config(base, str(tmp_path / str(i)), 4, args,
                                         load_from=None, pose_lr=pose_lr)
        cfg = load_config(path)
        assert cfg.train_cfg.max_iters == 4 and cfg.train_dataloader.batch_size == 16
        if pose_lr:
            optimizer = (cfg.optim_wrapper.pose_net.optimizer if 'dggan' in base
                         else cfg.optim_wrapper.optimizer)
            assert optimizer.lr == args.lr
    # the ablation row: the joint stage with the regulariser's loss off, nothing else changed
    path = hand3d_table.stage_config(hand3d_table.DGGAN_CONFIG.format(STAGES[3]),
                                     str(tmp_path / 'noreg'), 4, args, load_from=None,
                                     pose_lr=True,
                                     extra=('model = dict(regularizer_weight=0.0)',))
    cfg = load_config(path)
    assert cfg.model.regularizer_weight == 0.0 and cfg.model.task_weight == 10.0
