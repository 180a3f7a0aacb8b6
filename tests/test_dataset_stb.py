"""StbDataset on tiny label files written here in STB's format (built from the MHP fixture's
real 3D joints), with the real STB colour frame linked in: canonical reordering, the
depth -> colour transform, projections, Bumblebee views, the wrist rule, depth decoding,
bad input and the CPM config."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from scipy.spatial.transform import Rotation

import poseforge.datasets.stb  # noqa: F401  (registers StbDataset)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.stb import StbDataset, decode_stb_depth, read_stb_depth
from poseforge.skeletons import HAND21

ROOT = Path(__file__).resolve().parents[1]


def make_stb(data_root, **kwargs) -> StbDataset:
    """The dataset without mmengine's serialisation (its gc.collect costs ~0.5 s a build)."""
    return StbDataset(data_root=str(data_root), serialize_data=False, **kwargs)
NAMES = list(HAND21.keypoint_names)

# docs/datasets.md, STB: 0 palm centre, then little, ring, middle, index, thumb, each
# MCP -> PIP -> DIP -> TIP; written here as hand21 names (1 = MCP ... 4 = tip).
STB_ORDER = ['wrist'] + [f'{finger}{part}' for finger in ('little', 'ring', 'middle', 'index',
                                                           'thumb') for part in '1234']
SK_RVEC = np.array([0.00531, -0.01196, 0.00301])
SK_T = np.array([-24.0381, -0.4563, -1.2326])
FX, FY, CX, CY = 607.92271, 607.88192, 314.78337, 236.42484
BB_F, BB_CX, BB_CY, BASELINE = 822.79041, 318.47345, 250.31296, 120.054
# MHP's joint-file names for hand21 (docs/datasets.md, MHP), to borrow real hand geometry
MHP_NAMES = {'wrist': 'PALM_POSITION', **{
    f'{finger}{part}': f'{code}_{knuckle}'
    for finger, code in (('thumb', 'TH'), ('index', 'F4'), ('middle', 'F3'), ('ring', 'F2'),
                         ('little', 'F1'))
    for part, knuckle in (('1', 'KNU1_B'), ('2', 'KNU1_A'), ('3', 'KNU2_A'), ('4', 'KNU3_A'))}}


def real_hand_hand21(fixtures_dir: Path) -> np.ndarray:
    """The MHP fixture's 21 real joints (mm) in hand21 order, palm centre at the origin."""
    rows = {}
    for line in (fixtures_dir / 'mhp' / 'annotated_frames' / 'data_1' /
                 '0_joints.txt').read_text().splitlines():
        name, *values = line.split()
        rows[name] = np.array([float(v) for v in values])
    joints = np.stack([rows[MHP_NAMES[name]] for name in NAMES])
    return joints - joints[0]


@pytest.fixture(scope='module')
def colour_hands(fixtures_dir) -> np.ndarray:
    """Two frames in the colour (or left Bumblebee) camera frame, ~400 mm in front of it."""
    hand = real_hand_hand21(fixtures_dir)
    return np.stack([hand + [0.0, 0.0, 400.0], hand + [10.0, -5.0, 430.0]])


def write_labels(path: Path, hands_hand21: np.ndarray) -> None:
    """``handPara`` (3, 21, frames) in STB's joint order."""
    stb = hands_hand21[:, [NAMES.index(name) for name in STB_ORDER]]
    scipy.io.savemat(str(path), {'handPara': stb.transpose(2, 1, 0)})


@pytest.fixture(scope='module')
def stb_root(tmp_path_factory, fixtures_dir, colour_hands) -> Path:
    root = tmp_path_factory.mktemp('stb')
    rotation = Rotation.from_rotvec(SK_RVEC).as_matrix()
    depth_frame = colour_hands @ rotation.T + SK_T  # inverse of X_c = R^T (X_d - T)
    (root / 'labels').mkdir()
    for sequence in ('B1Counting', 'B1Random'):
        (root / 'images' / sequence).mkdir(parents=True)
        (root / 'images' / sequence / 'SK_color_0.png').symlink_to(
            fixtures_dir / 'stb' / 'images_unknown_sequence' / 'stb_SK_color_0.png')
        write_labels(root / 'labels' / f'{sequence}_SK.mat', depth_frame)
        write_labels(root / 'labels' / f'{sequence}_BB.mat', colour_hands)
    return root


def test_sk_labels_are_reordered_and_moved_into_the_colour_frame(stb_root, colour_hands):
    ds = make_stb(stb_root, sequences=['B1Counting'])
    assert len(ds) == 2 and ds.metainfo['root_joint'] == 'palm'
    for frame in range(2):
        info = ds.get_data_info(frame)
        assert info['frame_id'] == frame and info['sequence_id'] == 'B1Counting'
        assert info['hand_side'] == 'left' and info['view_id'] == 0
        assert info['img_path'].endswith(f'images/B1Counting/SK_color_{frame}.png')
        assert info['depth_path'].endswith(f'images/B1Counting/SK_depth_{frame}.png')
        assert np.allclose(info['keypoints_3d'], colour_hands[frame], atol=1e-3)
        # projection with the colour intrinsics, no distortion
        x, y, z = colour_hands[frame].T
        assert np.allclose(info['keypoints'], np.stack([FX * x / z + CX, FY * y / z + CY], 1),
                           atol=1e-3)
        # R, t map the label (depth camera) frame into the colour camera
        rotation = Rotation.from_rotvec(SK_RVEC).as_matrix()
        label = colour_hands[frame] @ rotation.T + SK_T
        assert np.allclose(label @ info['R'].T.astype(np.float64) + info['t'],
                           colour_hands[frame], atol=1e-3)
        assert np.allclose(info['K'], [[FX, 0, CX], [0, FY, CY], [0, 0, 1]])
    # spot checks of the reordering: STB joint 20 (thumb tip) is hand21 joint 4, STB 1 (little
    # MCP) is hand21 17, STB 0 (palm centre) stays at 0
    stb_order = read_back(stb_root / 'labels' / 'B1Counting_BB.mat')
    bb = make_stb(stb_root, sequences=['B1Counting'], camera='BB_left')
    kp3d = bb.get_data_info(0)['keypoints_3d']
    assert np.allclose(kp3d[4], stb_order[0, 20], atol=1e-3)
    assert np.allclose(kp3d[17], stb_order[0, 1], atol=1e-3)
    assert np.allclose(kp3d[0], stb_order[0, 0], atol=1e-3)


def read_back(path: Path) -> np.ndarray:
    return scipy.io.loadmat(str(path))['handPara'].transpose(2, 1, 0)


def test_bbox_follows_the_depth_scaled_padding_rule(stb_root, colour_hands):
    info = make_stb(stb_root, sequences=['B1Counting']).get_data_info(1)
    x, y, z = colour_hands[1].T
    u, v = FX * x / z + CX, FY * y / z + CY
    pad = 20 * z.mean() / 390
    assert info['bbox'].tolist() == [float(int(u.min() - pad)), float(int(v.min() - pad)),
                                     float(int(u.max() + pad)), float(int(v.max() + pad))]


def test_bumblebee_views_share_the_left_frame_and_the_baseline(stb_root, colour_hands):
    ds = make_stb(stb_root, sequences=['B1Random'], camera='BB')
    assert len(ds) == 4
    left, right = ds.get_data_info(2), ds.get_data_info(3)  # frame 1, both views
    assert (left['view_id'], right['view_id']) == (0, 1)
    assert left['frame_id'] == right['frame_id'] == 1
    assert left['img_path'].endswith('images/B1Random/BB_left_1.png')
    assert right['img_path'].endswith('images/B1Random/BB_right_1.png')
    assert 'depth_path' not in left
    assert np.allclose(left['keypoints_3d'], colour_hands[1], atol=1e-3)
    assert np.allclose(right['keypoints_3d'], colour_hands[1] - [BASELINE, 0, 0], atol=1e-3)
    for info, shift in ((left, 0.0), (right, BASELINE)):
        x, y, z = colour_hands[1].T
        assert np.allclose(info['keypoints'],
                           np.stack([BB_F * (x - shift) / z + BB_CX, BB_F * y / z + BB_CY], 1),
                           atol=1e-3)
    only_right = make_stb(stb_root, sequences=['B1Random'], camera='BB_right')
    assert np.array_equal(only_right.get_data_info(1)['keypoints'], right['keypoints'])


def test_wrist_root_rule_is_a_documented_option(stb_root, colour_hands):
    default = make_stb(stb_root, sequences=['B1Counting'], camera='BB_left',
                         root='wrist')
    assert default.metainfo['keypoint_names'][0] == 'wrist'
    hand = colour_hands[0]
    ring_mcp, palm = hand[NAMES.index('ring1')], hand[0]
    info = default.get_data_info(0)
    assert np.allclose(info['keypoints_3d'][0], ring_mcp + 2 * (palm - ring_mcp), atol=1e-3)
    assert np.allclose(info['keypoints_3d'][1:], hand[1:], atol=1e-3)
    x, y, z = info['keypoints_3d'][0].astype(np.float64)
    assert np.allclose(info['keypoints'][0], [BB_F * x / z + BB_CX, BB_F * y / z + BB_CY],
                       atol=1e-3)
    other = make_stb(stb_root, sequences=['B1Counting'], camera='BB_left',
                       root='wrist', wrist_anchor='middle1', wrist_factor=2.5)
    mcp = hand[NAMES.index('middle1')]
    assert np.allclose(other.get_data_info(0)['keypoints_3d'][0], mcp + 2.5 * (palm - mcp),
                       atol=1e-3)


def test_splits_and_missing_sequences(stb_root):
    assert StbDataset.SPLITS['test'] == ('B1Counting', 'B1Random')
    assert StbDataset.SPLITS['train'] == tuple(f'B{i}{k}' for i in range(2, 7)
                                               for k in ('Counting', 'Random'))
    assert len(make_stb(stb_root, split='test')) == 4
    with pytest.raises(FileNotFoundError, match=r"StbDataset: label file not found: "
                                                r"'.*labels/B2Counting_SK\.mat'"):
        make_stb(stb_root, split='train')
    with pytest.raises(ValueError, match='camera must be one of'):
        make_stb(stb_root, camera='kinect')


def test_real_colour_frame_goes_through_the_pipeline(stb_root, fixtures_dir):
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    init_default_scope('poseforge')
    ds = make_stb(stb_root, sequences=['B1Counting'], test_mode=True,
                    pipeline=[dict(type='LoadImage')])
    loaded = ds[0]
    bgr = cv2.imread(str(fixtures_dir / 'stb' / 'images_unknown_sequence' /
                         'stb_SK_color_0.png'))
    assert loaded['img_shape'] == (480, 640)
    assert np.array_equal(loaded['img'], bgr[..., ::-1])  # RGB
    pack = Compose([dict(type='GetBBoxCenterScale', padding=1.25),
                    dict(type='TopdownAffine', input_size=(128, 128)),
                    dict(type='PackPoseInputs')])
    packed = pack(loaded)
    assert tuple(packed['inputs'].shape) == (3, 128, 128)
    assert packed['data_samples']['meta']['keypoints_3d'].shape == (21, 3)


def test_depth_png_decodes_to_millimetres(tmp_path):
    depth_mm = np.array([[0, 255, 256], [1234, 4095, 65535]])
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 2] = depth_mm % 256   # R: low byte
    bgr[..., 1] = depth_mm // 256  # G: high byte
    bgr[..., 0] = 77               # B: ignored
    path = tmp_path / 'SK_depth_0.png'
    assert cv2.imwrite(str(path), bgr)
    assert np.array_equal(read_stb_depth(str(path)), depth_mm.astype(np.float32))
    assert np.array_equal(decode_stb_depth(bgr[..., ::-1]), depth_mm.astype(np.float32))
    with pytest.raises(OSError, match='SK_depth_9.png'):
        read_stb_depth(str(tmp_path / 'SK_depth_9.png'))


def test_bad_label_files_and_layouts_are_named(stb_root, tmp_path, colour_hands):
    root = tmp_path / 'bad'
    (root / 'images' / 'B1Counting').mkdir(parents=True)
    (root / 'labels').mkdir()
    label = root / 'labels' / 'B1Counting_SK.mat'
    label.write_bytes(b'this is not a mat file at all' * 8)
    with pytest.raises(DatasetError, match=r"B1Counting_SK\.mat' is not a readable \.mat"):
        make_stb(root, sequences=['B1Counting'])
    scipy.io.savemat(str(label), {'hand': np.zeros((3, 21, 2))})
    with pytest.raises(DatasetError, match=r"has no variable 'handPara' \(found: \['hand'\]\)"):
        make_stb(root, sequences=['B1Counting'])
    scipy.io.savemat(str(label), {'handPara': np.zeros((3, 20, 2))})
    with pytest.raises(DatasetError, match=r'handPara has shape \(3, 20, 2\), expected'):
        make_stb(root, sequences=['B1Counting'])
    with pytest.raises(DatasetError, match=r'missing images/.*labels/<SEQ>_\{SK,BB\}\.mat'
                                           r'.*looks like the labels/ folder'):
        make_stb(stb_root / 'labels')
    with pytest.raises(DatasetError, match='sequence folders sit directly in data_root'):
        make_stb(stb_root / 'images')


def test_cpm_config_loads_and_builds_the_dataset(stb_root):
    from mmengine.registry import init_default_scope
    from poseforge.registry import DATASETS
    from poseforge.utils.config import load_config

    cfg = load_config(str(ROOT / 'configs' / 'cpm' / 'cpm_vgg19_stb-368.py'))
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.val_dataloader.dataset.camera == 'SK'
    assert [m['type'] for m in cfg.val_evaluator] == ['PCKAccuracy', 'AUC', 'EPE']
    init_default_scope('poseforge')
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.update(data_root=str(stb_root))
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 4
    packed = dataset[0]
    assert tuple(packed['inputs'].shape) == (3, 368, 368)
    assert packed['data_samples']['meta']['sequence_id'] == 'B1Counting'
