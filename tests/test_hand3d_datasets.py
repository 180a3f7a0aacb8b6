"""The 3D configs' protocols on the real RHD, STB and MHP files: evaluation runs through the
runner and reports the 3D metrics under the protocol's names (root, granted quantities)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from scipy.spatial.transform import Rotation

from conftest import ROOT
from test_dggan import tiny_pose_net

from poseforge.datasets.transforms.presets import topdown_3d_pipelines
from poseforge.engine.runner import PoseRunner
from poseforge.skeletons import HAND21
from poseforge.utils.config import load_config

GIVEN = 'gt-root-depth+bone'
# STB's joint order (docs/datasets.md) in hand21 names, and MHP's joints-file names of hand21
STB_ORDER = ['wrist'] + [f'{finger}{part}' for finger in ('little', 'ring', 'middle', 'index',
                                                           'thumb') for part in '1234']
MHP_NAMES = {'wrist': 'PALM_POSITION', **{
    f'{finger}{part}': f'{code}_{knuckle}'
    for finger, code in (('thumb', 'TH'), ('index', 'F4'), ('middle', 'F3'), ('ring', 'F2'),
                         ('little', 'F1'))
    for part, knuckle in (('1', 'KNU1_B'), ('2', 'KNU1_A'), ('3', 'KNU2_A'), ('4', 'KNU3_A'))}}


def stb_root(base: Path, fixtures: Path) -> Path:
    """STB's layout with label files written from the MHP fixture's real hand (palm centre at
    joint 0, in the depth camera's frame ~400 mm away) and the real STB colour frame."""
    rows = {}
    for line in (fixtures / 'mhp' / 'annotated_frames' / 'data_1' /
                 '0_joints.txt').read_text().splitlines():
        name, *values = line.split()
        rows[name] = np.array([float(v) for v in values])
    hand = np.stack([rows[MHP_NAMES[n]] for n in HAND21.keypoint_names])
    hand = hand - hand[0] + [0.0, 0.0, 400.0]
    depth_frame = (hand @ Rotation.from_rotvec([0.00531, -0.01196, 0.00301]).as_matrix().T
                   + [-24.0381, -0.4563, -1.2326])
    stb = depth_frame[[list(HAND21.keypoint_names).index(n) for n in STB_ORDER]]
    (base / 'labels').mkdir(parents=True)
    for sequence in ('B1Counting', 'B1Random'):
        (base / 'images' / sequence).mkdir(parents=True)
        (base / 'images' / sequence / 'SK_color_0.png').symlink_to(
            fixtures / 'stb' / 'images_unknown_sequence' / 'stb_SK_color_0.png')
        scipy.io.savemat(str(base / 'labels' / f'{sequence}_SK.mat'),
                         {'handPara': stb[None].transpose(2, 1, 0)})
    return base


def evaluate(config: str, dataset: dict, work_dir: Path) -> dict:
    """The config's dataset and evaluator, a tiny untrained 3D estimator at 64 px."""
    cfg = load_config(str(ROOT / 'configs' / 'hand3d' / config))
    codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=1.0)
    _, test_pipeline = topdown_3d_pipelines(codec)
    cfg.model = tiny_pose_net()
    cfg.test_dataloader.dataset.update(dataset, pipeline=test_pipeline)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=4)
    cfg.work_dir = str(work_dir)
    cfg.load_from = None
    runner = PoseRunner.from_cfg(cfg)
    return runner.test()


def test_3d_protocols_on_the_real_datasets(fixtures_dir, tmp_path):
    rhd = evaluate('hand3d_cpm-vgg19_rhd-256.py',
                   dict(data_root=str(fixtures_dir / 'rhd'), ann_file='test_rhd.json',
                        data_prefix=dict(img='')), tmp_path / 'rhd')
    stb = evaluate('hand3d_cpm-vgg19_stb-256.py',
                   dict(data_root=str(stb_root(tmp_path / 'stb_data', fixtures_dir))),
                   tmp_path / 'stb')
    mhp = evaluate('hand3d_cpm-vgg19_mhp-256.py',
                   dict(data_root=str(fixtures_dir / 'mhp'), split=None, sequences=['data_1']),
                   tmp_path / 'mhp')
    # RHD: the wrist is joint 0; STB and MHP (root='palm'): the palm centre, hand3d's protocol
    for metrics, root in ((rhd, 'wrist'), (stb, 'palm'), (mhp, 'palm')):
        assert list(metrics)[0] == f'AUC3D_20-50/{root}/{GIVEN}'
        for key in (f'EPE3D/{root}/{GIVEN}', f'EPE3D_aligned/{root}/{GIVEN}',
                    f'EPE3D/{root}/no-gt', f'AUC3D_20-50/{root}/no-gt', 'PCK@0.2', 'EPE'):
            assert key in metrics and np.isfinite(metrics[key]), (root, key, sorted(metrics))
        # an untrained network is far off (tens of mm), but on a hand's scale, not metres
        assert 5 < metrics[f'EPE3D/{root}/{GIVEN}'] < 500
