"""MhpDataset on the real MHP fixture frame (original layout): projections and boxes reproduce
the dataset's own files, 3D joints land in the camera frame in hand21 order, the wrist rule,
bad input, and the CPM config building a packed sample."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import poseforge.datasets.mhp  # noqa: F401  (registers MhpDataset)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.mhp import MhpDataset, project_with_distortion
from poseforge.skeletons import HAND21

ROOT = Path(__file__).resolve().parents[1]


def make_mhp(data_root, **kwargs) -> MhpDataset:
    """The dataset without mmengine's serialisation (its gc.collect costs ~0.5 s a build)."""
    return MhpDataset(data_root=str(data_root), serialize_data=False, **kwargs)

# docs/datasets.md, MHP: fingers TH thumb, F4 index, F3 middle, F2 ring, F1 little; parts
# KNU1_B = MCP, KNU1_A = PIP, KNU2_A = DIP, KNU3_A = tip; the root is PALM_POSITION.
FINGER_CODES = {'thumb': 'TH', 'index': 'F4', 'middle': 'F3', 'ring': 'F2', 'little': 'F1'}
PART_CODES = {'1': 'KNU1_B', '2': 'KNU1_A', '3': 'KNU2_A', '4': 'KNU3_A'}
HAND21_TO_MHP = {'wrist': 'PALM_POSITION', **{
    f'{finger}{part}': f'{code}_{PART_CODES[part]}'
    for finger, code in FINGER_CODES.items() for part in PART_CODES}}
K = np.array([[614.878, 0, 313.219], [0, 615.479, 231.288], [0, 0, 1]])
DIST = np.array([0.092701, -0.175877, -0.0035687, -0.00302299, 0])


@pytest.fixture(scope='module')
def mhp_root(fixtures_dir) -> Path:
    return fixtures_dir / 'mhp'


@pytest.fixture(scope='module')
def mhp(mhp_root) -> MhpDataset:
    return make_mhp(mhp_root, sequences=['data_1'])


def _named_rows(path: Path) -> dict[str, np.ndarray]:
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, *values = line.split()
            rows[name] = np.array([float(v) for v in values])
    return rows


def _canonical(rows: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([rows[HAND21_TO_MHP[name]] for name in HAND21.keypoint_names])


def _calibration(mhp_root: Path, view: int) -> tuple[np.ndarray, np.ndarray]:
    folder = mhp_root / 'calibrations' / 'data_1' / f'webcam_{view}'
    with open(folder / 'rvec.pkl', 'rb') as f:
        rvec = pickle.load(f, encoding='latin1').reshape(3)
    with open(folder / 'tvec.pkl', 'rb') as f:
        tvec = pickle.load(f, encoding='latin1').reshape(3)
    return rvec, tvec


def test_one_instance_per_view_with_the_schema(mhp, mhp_root):
    assert len(mhp) == 4
    assert mhp.metainfo['root_joint'] == 'palm' and mhp.metainfo['keypoint_names'][0] == 'palm'
    for view in range(4):
        info = mhp.get_data_info(view)
        assert info['view_id'] == view and info['sequence_id'] == 'data_1'
        assert info['frame_id'] == 0 and info['id'] == view
        assert Path(info['img_path']) == (mhp_root / 'annotated_frames' / 'data_1'
                                          / f'0_webcam_{view + 1}.jpg')
        shapes = dict(bbox=(4,), keypoints=(21, 2), keypoints_visible=(21,),
                      keypoints_3d=(21, 3), K=(3, 3), dist=(5,), R=(3, 3), t=(3,))
        for key, shape in shapes.items():
            assert info[key].shape == shape and info[key].dtype == np.float32, key
        assert np.all(info['keypoints_visible'] == 1)
        assert np.allclose(info['K'], K) and np.allclose(info['dist'], DIST)


def test_projection_reproduces_the_datasets_projections_2d(mhp, mhp_root):
    for view in range(1, 5):
        expected = _canonical(_named_rows(
            mhp_root / 'projections_2d' / 'data_1' / f'0_jointsCam_{view}.txt'))
        assert np.abs(mhp.get_data_info(view - 1)['keypoints'] - expected).max() < 1e-3
        # in float64 (before the schema's float32) the doc's 1e-6 px holds
        world = _canonical(_named_rows(mhp_root / 'annotated_frames' / 'data_1' / '0_joints.txt'))
        rvec, tvec = _calibration(mhp_root, view)
        assert np.abs(project_with_distortion(world, rvec, tvec) - expected).max() < 1e-6


def test_bbox_reproduces_the_datasets_bounding_boxes(mhp, mhp_root):
    for view in range(1, 5):
        rows = _named_rows(mhp_root / 'bounding_boxes' / 'data_1' / f'0_bbox_{view}.txt')
        expected = [rows['LEFT'][0], rows['TOP'][0], rows['RIGHT'][0], rows['BOTTOM'][0]]
        assert mhp.get_data_info(view - 1)['bbox'].tolist() == expected


def test_keypoints_3d_are_the_canonical_joints_in_the_camera_frame(mhp, mhp_root):
    world = _canonical(_named_rows(mhp_root / 'annotated_frames' / 'data_1' / '0_joints.txt'))
    for view in range(1, 5):
        rvec, tvec = _calibration(mhp_root, view)
        rotation = Rotation.from_rotvec(rvec).as_matrix()
        info = mhp.get_data_info(view - 1)
        expected = world @ rotation.T + tvec
        assert np.allclose(info['keypoints_3d'], expected, atol=1e-3)
        assert np.allclose(info['R'], rotation, atol=1e-6) and np.allclose(info['t'], tvec)
        assert 300 < expected[:, 2].mean() < 700  # the hand is in front of every webcam
    # joint 0 is the palm centre; the thumb tip is hand21 joint 4
    info = mhp.get_data_info(0)
    rvec, tvec = _calibration(mhp_root, 1)
    rows = _named_rows(mhp_root / 'annotated_frames' / 'data_1' / '0_joints.txt')
    rotation = Rotation.from_rotvec(rvec).as_matrix()
    assert np.allclose(info['keypoints_3d'][0], rotation @ rows['PALM_POSITION'] + tvec,
                       atol=1e-3)
    assert np.allclose(info['keypoints_3d'][4], rotation @ rows['TH_KNU3_A'] + tvec, atol=1e-3)


def test_wrist_root_reflects_the_ring_mcp_through_the_palm(mhp, mhp_root):
    wrist = make_mhp(mhp_root, sequences=['data_1'], root='wrist')
    assert wrist.metainfo['root_joint'] == 'wrist'
    assert wrist.metainfo['keypoint_names'][0] == 'wrist'
    palm_info, wrist_info = mhp.get_data_info(2), wrist.get_data_info(2)
    palm3d = palm_info['keypoints_3d'].astype(np.float64)
    ring_mcp = palm3d[13]  # hand21: ring1
    assert np.allclose(wrist_info['keypoints_3d'][0], ring_mcp + 2 * (palm3d[0] - ring_mcp),
                       atol=1e-3)
    assert np.array_equal(wrist_info['keypoints_3d'][1:], palm_info['keypoints_3d'][1:])
    # the 2D wrist is the projection of the 3D one (through the lens model), not a 2D reflection
    rvec, tvec = np.zeros(3), np.zeros(3)
    projected = project_with_distortion(wrist_info['keypoints_3d'][:1], rvec, tvec)
    assert np.allclose(wrist_info['keypoints'][0], projected[0], atol=1e-3)
    x1, y1, x2, y2 = wrist_info['bbox']
    u, v = wrist_info['keypoints'][0]
    assert x1 <= u <= x2 and y1 <= v <= y2
    middle = make_mhp(mhp_root, sequences=['data_1'], root='wrist',
                        wrist_anchor='middle1', wrist_factor=3.0)
    mcp = palm3d[9]
    assert np.allclose(middle.get_data_info(2)['keypoints_3d'][0], mcp + 3 * (palm3d[0] - mcp),
                       atol=1e-3)
    with pytest.raises(ValueError, match='root must be one of'):
        make_mhp(mhp_root, root='knuckle')
    with pytest.raises(ValueError, match='wrist anchor'):
        make_mhp(mhp_root, root='wrist', wrist_anchor='elbow')


def test_splits_follow_dggan_and_name_a_missing_sequence(mhp_root):
    assert MhpDataset.SPLITS['val'] == ('data_1', 'data_2')
    assert MhpDataset.SPLITS['train'] == tuple(f'data_{i}' for i in range(3, 22))
    with pytest.raises(FileNotFoundError, match=r"MhpDataset.*annotated_frames/data_2"):
        make_mhp(mhp_root, split='val')
    assert len(make_mhp(mhp_root, views=(2, 4))) == 2  # all data_* found
    with pytest.raises(ValueError, match='not both'):
        make_mhp(mhp_root, split='val', sequences=['data_1'])


# --------------------------------------------------------------------------- bad input
def _layout_with_joints(mhp_root: Path, tmp_path: Path, lines: list[str]) -> Path:
    """A one-frame MHP tree: the fixture's calibrations linked (not copied), joints written."""
    (tmp_path / 'annotated_frames' / 'data_1').mkdir(parents=True)
    (tmp_path / 'annotated_frames' / 'data_1' / '0_joints.txt').write_text('\n'.join(lines))
    os.symlink(mhp_root / 'calibrations', tmp_path / 'calibrations')
    return tmp_path


def _joint_lines(mhp_root: Path) -> list[str]:
    return (mhp_root / 'annotated_frames' / 'data_1' / '0_joints.txt').read_text().splitlines()


def test_malformed_joints_line_names_file_and_line(mhp_root, tmp_path):
    lines = _joint_lines(mhp_root)
    lines[4] = lines[4].split()[0] + ' 1.0 two 3.0'
    root = _layout_with_joints(mhp_root, tmp_path / 'a', lines)
    with pytest.raises(DatasetError, match=r"0_joints\.txt', line 5 .*not numbers"):
        make_mhp(root)
    lines = _joint_lines(mhp_root)
    lines[0], lines[1] = lines[1], lines[0]
    root = _layout_with_joints(mhp_root, tmp_path / 'b', lines)
    with pytest.raises(DatasetError, match=r"line 1 .*expected joint 'F4_KNU1_A'"):
        make_mhp(root)
    root = _layout_with_joints(mhp_root, tmp_path / 'c', _joint_lines(mhp_root)[:21])
    with pytest.raises(DatasetError, match=r'21 non-empty lines, expected 22'):
        make_mhp(root)


def test_corrupt_or_unsafe_calibration_pickle_names_the_file(mhp_root, tmp_path):
    for name, payload in (('corrupt', b'\x80\x02not a pickle'),
                          ('unsafe', b"cos\nsystem\n(S'echo pwned'\ntR.")):
        root = tmp_path / name
        root.mkdir()
        (root / 'annotated_frames').symlink_to(mhp_root / 'annotated_frames')
        for view in range(1, 5):
            folder = root / 'calibrations' / 'data_1' / f'webcam_{view}'
            folder.mkdir(parents=True)
            (folder / 'rvec.pkl').symlink_to(
                mhp_root / 'calibrations' / 'data_1' / f'webcam_{view}' / 'rvec.pkl')
            (folder / 'tvec.pkl').write_bytes(payload)
        with pytest.raises(DatasetError, match=r"webcam_1/tvec\.pkl' is not a readable"):
            make_mhp(root)
    (tmp_path / 'unsafe' / 'calibrations' / 'data_1' / 'webcam_1' / 'tvec.pkl').unlink()
    with pytest.raises(FileNotFoundError, match=r'calibration file not found.*tvec\.pkl'):
        make_mhp(tmp_path / 'unsafe')


def test_wrong_layout_says_which_layout_was_expected(mhp_root, tmp_path):
    with pytest.raises(DatasetError, match=r'missing annotated_frames/, calibrations/.*'
                                           r'annotated_frames/data_N/.*point it at the MHP root'):
        make_mhp(mhp_root / 'annotated_frames')
    with pytest.raises(FileNotFoundError, match="MhpDataset: data_root .* does not exist"):
        make_mhp(tmp_path / 'nowhere')
    (tmp_path / 'annotated_frames' / 'data_1').mkdir(parents=True)
    (tmp_path / 'calibrations').mkdir()
    with pytest.raises(DatasetError, match=r'no \{f\}_joints\.txt files'):
        make_mhp(tmp_path)


# --------------------------------------------------------------------------- config
def test_cpm_config_builds_the_dataset_and_packs_a_sample(mhp_root):
    from mmengine.registry import init_default_scope
    from poseforge.registry import DATASETS
    from poseforge.utils.config import load_config

    cfg = load_config(str(ROOT / 'configs' / 'cpm' / 'cpm_vgg19_mhp-368.py'))
    assert cfg.val_dataloader.dataset.type == 'MhpDataset'
    assert cfg.val_dataloader.dataset.split == 'val'
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.collate_fn.type == 'poseforge.pose_collate'
    init_default_scope('poseforge')
    for loader in ('val_dataloader', 'train_dataloader'):
        ds_cfg = cfg[loader].dataset.copy()
        ds_cfg.update(data_root=str(mhp_root), split=None, sequences=['data_1'])
        dataset = DATASETS.build(ds_cfg)
        packed = dataset[1]
        assert tuple(packed['inputs'].shape) == (3, 368, 368)
        meta = packed['data_samples']['meta']
        assert meta['view_id'] == 1 and meta['keypoints_3d'].shape == (21, 3)
        assert np.allclose(meta['K'], K)
        if loader == 'train_dataloader':
            assert tuple(packed['data_samples']['heatmaps'].shape) == (21, 46, 46)
