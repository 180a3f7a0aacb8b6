"""Generated hands for real images: the grasp prior, the sim2real photometric recipe, the mixed
generated + real config, and tools/sim2real.py end to end on a tiny budget."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from poseforge.generation.hand_model import default_shape, forward_kinematics
from poseforge.generation.pose_prior import (GRASPS, PriorConfig, grasp_angles, sample_angles,
                                             within_limits)

ROOT = Path(__file__).resolve().parents[1]


def _curl(angles: np.ndarray) -> float:
    """Mean fingertip-to-wrist distance of the four fingers over the open hand's (1 = open)."""
    shape = default_shape()
    tips = forward_kinematics(shape, angles)[0][[8, 12, 16, 20]]
    open_tips = forward_kinematics(shape, np.zeros((5, 4)))[0][[8, 12, 16, 20]]
    return float(np.linalg.norm(tips, axis=1).mean() / np.linalg.norm(open_tips, axis=1).mean())


def test_grasp_prior_covers_fists_and_stays_in_limits():
    rng = np.random.default_rng(0)
    for name in GRASPS:
        for _ in range(5):
            assert within_limits(grasp_angles(rng, name))
    assert _curl(grasp_angles(rng, 'fist')) < 0.6            # fingertips folded into the palm
    assert _curl(grasp_angles(rng, 'hook')) < 0.9
    point = grasp_angles(np.random.default_rng(1), 'point')
    tips = forward_kinematics(default_shape(), point)[0]
    assert np.linalg.norm(tips[8]) > 1.4 * np.linalg.norm(tips[12])   # index out, middle in
    joints = forward_kinematics(default_shape(), np.radians(GRASPS['pinch']))[0]
    assert np.linalg.norm(joints[4] - joints[8]) < 20.0      # thumb and index tips meet

    def fists(prior: PriorConfig) -> float:
        """Share of poses with every finger curled (each fingertip under 0.6 of its reach)."""
        shape = default_shape()
        reach = np.linalg.norm(forward_kinematics(shape, np.zeros((5, 4)))[0][[8, 12, 16, 20]],
                               axis=1)
        curls = [np.linalg.norm(forward_kinematics(shape, sample_angles(rng, prior))[0]
                                [[8, 12, 16, 20]], axis=1) / reach for _ in range(300)]
        return float(np.mean([c.max() < 0.6 for c in curls]))
    assert fists(PriorConfig(grasp_prob=1.0)) > fists(PriorConfig(grasp_prob=0.0)) + 0.08


def test_sim2real_photometric_recipe_builds_and_keeps_the_crop():
    from poseforge.datasets.transforms.photometric import RECIPES, PhotometricAug
    assert 'sim2real' in RECIPES
    aug = PhotometricAug('sim2real')
    rng = np.random.default_rng(0)
    img = (rng.uniform(0, 255, (64, 64, 3))).astype(np.uint8)
    np.random.seed(0)
    outs = [aug.transform({'img': img.copy()})['img'] for _ in range(20)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert sum(not np.array_equal(o, img) for o in outs) >= 10


def test_sim2real_configs_build_and_mix_real_data(fixtures_dir, tiny_synth):
    from mmengine.registry import init_default_scope

    from poseforge.registry import DATASETS
    from poseforge.utils.config import load_config
    init_default_scope('poseforge')
    cfg = load_config(str(ROOT / 'configs/sim2real/cpm-light_sim2real-128.py'))
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert cfg.train_dataloader.dataset.pipeline[steps.index('PhotometricAug')]['transforms'] \
        == 'sim2real'
    real = fixtures_dir / 'onehand10k'
    mixed = load_config(str(ROOT / 'configs/sim2real/cpm-light_synth+real-128.py'), {
        'train_dataloader.dataset.datasets.0.data_root': str(tiny_synth),
        'train_dataloader.dataset.datasets.1.dataset.data_root': str(real),
        'train_dataloader.dataset.datasets.1.dataset.ann_file': 'test_onehand10k.json'})
    dataset = DATASETS.build(mixed.train_dataloader.dataset)
    synth_count = len(json.loads((tiny_synth / 'annotations/train.json').read_text())['images'])
    assert len(dataset) == synth_count + 4 * mixed.real_repeat
    sample = dataset[len(dataset) - 1]                        # a real image, through the pipeline
    assert tuple(sample['inputs'].shape) == (3, 128, 128)
    assert str(real) in sample['data_samples']['meta']['img_path']


def test_real_fixture_sets_score_every_labelled_hand(fixtures_dir):
    import _real_hands as rh   # tools/ is on sys.path (conftest)
    sets = rh.fixture_sets(fixtures_dir)
    assert [s.name for s in sets if s.pooled] == ['OneHand10K', 'Panoptic', 'MHP']
    assert [s.name for s in sets if not s.pooled] == ['RHD']
    gt = np.zeros((2, 21, 2))
    result = rh.SetResult('x', True, gt + [[3.0, 0.0]], gt, np.ones((2, 21), bool),
                          np.array([[0, 0, 10, 20], [0, 0, 100, 50]], float))
    # box-normalised: 3 px is 0.15 of a 20 px box (in), 0.03 of a 100 px box (in)
    assert rh.pooled_metrics([result])['PCK@0.2'] == 1.0
    result.pred = gt + [[5.0, 0.0]]                           # 0.25 of the small box: out
    assert rh.pooled_metrics([result])['PCK@0.2'] == 0.5


def test_sim2real_tool_end_to_end_on_a_tiny_budget(tmp_path, fixtures_dir):
    import sim2real   # tools/ is on sys.path (conftest)
    extra = tmp_path / 'real_rhd.py'
    extra.write_text(   # a user's dataset config: RHD's, pointed at the fixture files
        "_base_ = ['{}']\ntest_dataloader = dict(dataset=dict(data_root='{}', "
        "ann_file='test_rhd.json'))\n".format(ROOT / 'configs/_base_/datasets/rhd.py',
                                               fixtures_dir / 'rhd'))
    out = tmp_path / 'table.md'
    options = ['train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
               'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False']
    argv = ['--settings', 'today', 'default', '--num', '3', '--views', '1', '--size', '64',
            '--epochs', '1', '--data-dir', str(tmp_path / 'data'), '--work-dir',
            str(tmp_path / 'work'), '--out', str(out), '--real', str(extra), '--quiet',
            '--fixtures', str(fixtures_dir), '--cfg-options', *options]
    assert sim2real.main(argv) == 0
    table = out.read_text()
    assert '| today |' in table and '| default |' in table and 'real_rhd PCK@0.2' in table
    assert 'train_dataloader.batch_size=4' in table.splitlines()[0]   # the budget, stated
    report = json.loads(out.with_suffix('.json').read_text())
    for row in report['rows']:
        assert row['pool']['hands'] == 12 and 0.0 <= row['pool']['PCK@0.2'] <= 1.0
        assert row['sets']['real_rhd']['hands'] == 3
    gallery = out.parent / 'table_gallery.png'
    import cv2
    image = cv2.imread(str(gallery))
    assert image is not None and image.shape[0] >= 2 * 128
    samples = cv2.imread(str(out.parent / 'table_samples.png'))
    assert samples is not None and samples.shape[0] >= 2 * 128
    assert sim2real.main(argv[:2] + ['nonsense']) == 2

    # --checkpoint scores a trained model as it is: the same figures as the run that trained it
    row = report['rows'][0]
    scored = tmp_path / 'scored.md'
    config = 'configs/sim2real/cpm-light_sim2real-128.py'
    again = ['--checkpoint', config, row['checkpoint'], '--out', str(scored), '--quiet',
             '--fixtures', str(fixtures_dir), '--cfg-options', *options,
             f"test_dataloader.dataset.data_root={tmp_path / 'data' / row['setting']}"]
    assert sim2real.main(again) == 0
    rescored = json.loads(scored.with_suffix('.json').read_text())['rows'][0]
    assert rescored['pool'] == row['pool']
    for name in ('OneHand10K', 'Panoptic', 'MHP', 'RHD', 'generated (test)'):
        assert rescored['sets'][name] == row['sets'][name]
    assert 'Checkpoints scored as trained' in scored.read_text().splitlines()[0]
    with pytest.raises(SystemExit) as missing:
        sim2real.main(again[:2] + [str(tmp_path / 'absent.pth')] + again[3:])
    assert missing.value.code == 2


def test_per_set_figures_count_keypoints_as_the_pool_does():
    """A set's PCK, AUC and EPE are means over its labelled keypoints, like the pool's: the
    sets' keypoints x PCK add up to the pool's, also where joints are labelled unevenly (the
    OneHand10K fixture). The per-joint mean of mmpose's ``keypoint_pck_accuracy`` is kept
    apart as ``PCK@0.2 (per joint)``."""
    import _real_hands as rh   # tools/ is on sys.path (conftest)
    gt = np.zeros((2, 21, 2))
    boxes = np.array([[0, 0, 100, 100], [0, 0, 100, 100]], float)
    mask = np.ones((2, 21), bool)
    mask[1, 1:] = False                       # the second hand: its wrist alone is labelled
    pred = gt.copy()
    pred[1, 0] = [50.0, 0.0]                  # ... and missed (0.5 of the box, 50 px)
    uneven = rh.SetResult('uneven', True, pred, gt, mask, boxes)
    m = uneven.metrics()
    assert m['keypoints'] == 22
    assert m['PCK@0.2'] == pytest.approx(21 / 22)              # per keypoint
    assert m['PCK@0.2 (per joint)'] == pytest.approx(20.5 / 21)   # wrist 1/2, others 1/1
    assert m['EPE'] == pytest.approx(50 / 22)
    # AUC over 0..30 px, thresholds i/20 (i = 0..19, strict <): exact keypoints count from i=1
    assert m['AUC'] == pytest.approx(19 / 20 * 21 / 22)
    even = rh.SetResult('even', True, gt + [[30.0, 0.0]], gt, np.ones((2, 21), bool),
                        np.array([[0, 0, 100, 100], [0, 0, 200, 200]], float))
    pool = rh.pooled_metrics([uneven, even])
    counted = sum(r.metrics()['PCK@0.2'] * r.metrics()['keypoints'] for r in (uneven, even))
    assert pool['keypoints'] == 22 + 42
    assert pool['PCK@0.2'] * pool['keypoints'] == pytest.approx(counted)


def test_hand_roll_measures_the_in_plane_turn_of_real_and_generated_hands(fixtures_dir):
    import _real_hands as rh   # tools/ is on sys.path (conftest)
    kp = np.zeros((21, 2))
    vis = np.ones(21)
    for direction, expected in (((0, -10), 0.0), ((10, 0), 90.0), ((-10, 0), 90.0),
                                ((0, 10), 180.0), ((7, -7), 45.0)):
        kp[9] = direction                    # middle MCP relative to the wrist (image y down)
        assert rh.hand_roll_deg(kp, vis) == pytest.approx(expected)
    vis[9] = 0
    assert rh.hand_roll_deg(kp, vis) is None
    # MHP's webcams look down on hands lying on a table: most are turned (the gap that the
    # sim2real recipe's rotation covers); the statistic reaches --gap's table
    mhp = next(s for s in rh.fixture_sets(fixtures_dir) if s.name == 'MHP')
    stats = rh.crop_statistics(mhp.dataset, size=32)
    assert stats['turned > 60 deg'][0] >= 0.5


def test_sim2real_config_turns_crops_as_often_as_real_hands_are_turned():
    """Generated hands are near upright (5-8% turned > 60 degrees), half of the real fixture
    hands are not (README, "Generated hands for real images"): the sim2real recipe's crop
    rotation must turn a large share of crops, where the quick start's +-45 turns about 1 in 9."""
    from poseforge.datasets.transforms.bbox import RandomBBoxTransform
    from poseforge.utils.config import load_config
    cfg = load_config(str(ROOT / 'configs/sim2real/cpm-light_sim2real-128.py'))
    step = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'RandomBBoxTransform')
    transform = RandomBBoxTransform(**{k: v for k, v in step.items() if k != 'type'})
    np.random.seed(0)
    turned = np.mean([abs(((transform.sample()[2] + 180) % 360) - 180) > 60
                      for _ in range(2000)])
    assert turned > 0.3


def test_every_named_setting_builds_its_generator_config():
    """``--list``'s names all resolve; the rig settings change the rig alone."""
    import sim2real   # tools/ is on sys.path (conftest)
    from poseforge.generation.rigs import RIGS
    default = sim2real.generation_config('default')
    for name in sim2real.setting_names():
        cfg = sim2real.generation_config(name)
        cfg.check()
        assert cfg.rig in RIGS
    for name, rig in (('sphere', 'sphere'), ('ring+sphere', 'ring+sphere')):
        cfg = sim2real.generation_config(name)
        assert cfg.rig == rig and default.rig == 'ring'
        assert (cfg.scene, cfg.prior, cfg.camera) == (default.scene, default.prior, default.camera)
    with pytest.raises(ValueError, match='unknown setting'):
        sim2real.generation_config('nonsense')
