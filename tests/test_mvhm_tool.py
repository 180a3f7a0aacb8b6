"""The MVHM dataset tool end to end: labels per view, sequences, determinism, resuming, the MHP
layout read back by MhpDataset, pose sources, backgrounds, the gallery and the command line."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from poseforge.formats import mhp as mhp_format
from poseforge.generation import mhp_writer
from poseforge.generation.cameras import project_points
from poseforge.generation.hand_model import forward_kinematics, sample_shape
from poseforge.generation.pose_prior import sample_pose
from poseforge.generation.synth_hands import (GenerationConfig, GenerationError,
                                              generate_dataset, read_shard)
from poseforge.generation.template import PARENT, hand_template

RUN = dict(num=3, views=2, size=64, seed=5, test_fraction=0.34)
SEQ = GenerationConfig(sequence_length=3)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def _records(root: Path) -> list[tuple[dict, dict, str]]:
    out = []
    for split in ('train', 'test'):
        data = json.loads((root / 'annotations' / f'{split}.json').read_text())
        images = {im['id']: im for im in data['images']}
        out += [(images[a['image_id']], a, split) for a in data['annotations']]
    return out


@pytest.fixture(scope='module')
def sequences(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('mvhm')
    generate_dataset(out, workers=1, cfg=SEQ, **RUN)
    return out


# --------------------------------------------------------------------------- labels per view
def test_views_project_depth_and_world_agree(sequences):
    radii = hand_template().joint_radii * 1.35 + 6.0 + 1.0   # thickest hand, tolerance, png
    worlds: dict[int, list[np.ndarray]] = {}
    checked = 0
    for image, ann, split in _records(sequences):
        K, R, t = (np.array(image[k]) for k in ('K', 'R', 't'))
        kp3d = np.array(ann['keypoints_3d']).reshape(21, 3)
        kp = np.array(ann['keypoints']).reshape(21, 3)
        assert np.abs(project_points(K, kp3d) - kp[:, :2]).max() < 0.5
        world = np.array(ann['keypoints_3d_world']).reshape(21, 3)
        assert np.abs((kp3d - t) @ R - world).max() < 1e-6
        worlds.setdefault(image['sample_id'], []).append(world)
        depth = cv2.imread(str(sequences / 'depth' / split / image['depth_file']),
                           cv2.IMREAD_UNCHANGED).astype(np.float64)
        mask = cv2.imread(str(sequences / 'masks' / split / image['mask_file']),
                          cv2.IMREAD_UNCHANGED)
        cols, rows = np.rint(kp[:, :2]).astype(int).T
        inner = np.ones(21, bool)
        inner[4::4] = False                    # fingertips end the skin: their pixel may miss
        visible = (kp[:, 2] == 2) & inner
        seen = depth[rows[visible], cols[visible]]
        assert np.all(seen > 0)
        assert np.all(np.abs(seen - kp3d[visible, 2]) <= radii[visible])
        occluded = kp[:, 2] == 1               # a surface well in front of the joint
        assert np.all(depth[rows[occluded], cols[occluded]] < kp3d[occluded, 2] - 6.0)
        assert np.all(depth[mask > 0] > 0) and (mask > 0).any()   # the hand has depth
        checked += visible.sum()
    assert checked > 100
    for views in worlds.values():
        assert len(views) == RUN['views']
        assert max(np.abs(v - views[0]).max() for v in views) < 1e-3


def test_sequences_have_ids_fixed_cameras_and_smooth_motion(sequences):
    by_sequence: dict[int, dict[int, dict]] = {}
    for image, ann, _ in _records(sequences):
        assert image['sample_id'] == image['sequence_id'] * 3 + image['frame_id']
        by_sequence.setdefault(image['sequence_id'], {}).setdefault(
            image['view_id'], {})[image['frame_id']] = (image, ann)
    assert sorted(by_sequence) == [0, 1, 2]
    for views in by_sequence.values():
        for frames in views.values():
            assert sorted(frames) == [0, 1, 2]
            cams = [np.array(frames[f][0]['R'] + [frames[f][0]['t']]) for f in range(3)]
            assert all(np.array_equal(c, cams[0]) for c in cams)   # a rig does not move
            joints = [np.array(frames[f][1]['keypoints_3d_world']).reshape(21, 3)
                      for f in range(3)]
            lengths = [np.linalg.norm(j[1:] - j[PARENT[1:]], axis=1) for j in joints]
            assert np.allclose(lengths[0], lengths[1]) and np.allclose(lengths[0], lengths[2])
            assert not np.allclose(joints[0], joints[2])              # the hand moves


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_whatever_the_workers(sequences, tmp_path):
    generate_dataset(tmp_path / 'again', workers=2, cfg=SEQ, **RUN)
    assert _files(tmp_path / 'again') == _files(sequences)


def test_interrupted_run_resumes_to_the_same_bytes(sequences, tmp_path):
    out = tmp_path / 'resumed'

    class Stop(Exception):
        pass

    def stop_after_first(unit: int) -> None:
        raise Stop(unit)

    with pytest.raises(Stop):
        generate_dataset(out, workers=1, cfg=SEQ, after_unit=stop_after_first, **RUN)
    assert len(list((out / 'shards').iterdir())) == 1
    assert not (out / 'annotations').exists()
    # A crash inside the next unit: a half-written temporary and a truncated image.
    (out / 'images' / 'train').mkdir(parents=True, exist_ok=True)
    for name in ('000003_v0.jpg', '000004_v1.jpg.partial', '.000004_v0.jpg.a1b2c3d4.tmp',
                 '000005_v0.jpg'):
        (out / 'images' / 'train' / name).write_bytes(b'\xff\xd8 truncated')
    summary = generate_dataset(out, workers=1, cfg=SEQ, **RUN)
    assert summary.resumed_units == 1
    assert _files(out) == _files(sequences)


def test_resuming_with_other_settings_is_refused(sequences, tmp_path):
    out = tmp_path / 'copy'
    generate_dataset(out, workers=1, cfg=SEQ, **RUN)
    with pytest.raises(GenerationError, match='seed'):
        generate_dataset(out, workers=1, cfg=SEQ, **dict(RUN, seed=6))


# --------------------------------------------------------------------------- MHP layout
def test_mhp_layout_reads_back_through_mhp_dataset(tmp_path):
    import poseforge.datasets.mhp  # noqa: F401  (registers MhpDataset)
    from poseforge.registry import DATASETS
    cfg = GenerationConfig(rig='mhp', output_format='mhp', sequence_length=2)
    generate_dataset(tmp_path, num=1, views=4, size=64, seed=2, cfg=cfg, test_fraction=0.0)
    frame_dir = tmp_path / 'annotated_frames' / 'data_1'
    assert sorted(p.name for p in frame_dir.iterdir()) == sorted(
        [f'{f}_webcam_{k}.jpg' for f in range(2) for k in range(1, 5)]
        + ['0_joints.txt', '1_joints.txt'])
    names = [line.split()[0] for line in (frame_dir / '0_joints.txt').read_text().splitlines()]
    assert names == list(mhp_format.MHP_LINE_NAMES)
    rvec = (tmp_path / 'calibrations' / 'data_1' / 'webcam_3' / 'rvec.pkl').read_bytes()
    assert rvec[:2] == b'\x80\x02' and b'numpy.core.multiarray' in rvec
    assert pickle.loads(rvec, encoding='latin1').shape == (3, 1)
    assert cv2.imread(str(frame_dir / '1_webcam_2.jpg')).shape == (480, 640, 3)

    dataset = DATASETS.build(dict(type='MhpDataset', data_root=str(tmp_path), root='wrist',
                                  test_mode=True))
    assert len(dataset) == 8
    shard = read_shard(str(tmp_path), 0)
    ours = {(im['frame_id'], im['view_id']): ann
            for im, ann in zip(shard['images'], shard['annotations'])}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ann = ours[(int(info['frame_id']), int(info['view_id']))]
        assert np.abs(info['keypoints'] - np.reshape(ann['keypoints'], (21, 3))[:, :2]
                      ).max() < 1e-3
        assert np.abs(info['keypoints_3d'] - np.reshape(ann['keypoints_3d'], (21, 3))
                      ).max() < 1e-3
        # Our own projection file agrees with the loader's (distorted) projection.
        proj = tmp_path / 'projections_2d' / 'data_1' / (
            f"{info['frame_id']}_jointsCam_{int(info['view_id']) + 1}.txt")
        uv = np.array([[float(v) for v in line.split()[1:]]
                       for line in proj.read_text().splitlines()])
        assert np.abs(uv[:20] - info['keypoints'][mhp_format.CANONICAL_TO_MHP[:20]]
                      ).max() < 1e-3


def test_mhp_writer_matches_the_real_files(fixtures_dir):
    """Our projections and boxes of the real frame equal MHP's own derived files."""
    from poseforge.generation.cameras import Camera
    root = fixtures_dir / 'mhp'
    frames, calibrations = root / 'annotated_frames' / 'data_1', root / 'calibrations' / 'data_1'
    lines = mhp_format.read_joints_file(str(frames / '0_joints.txt'))
    joints = mhp_format.palm_to_wrist(lines[mhp_format.MHP_TO_CANONICAL])
    assert np.allclose(mhp_writer.mhp_points(joints), lines[:21])  # the palm comes back
    for k in range(1, 5):
        rvec, t = mhp_format.read_calibration(str(calibrations / f'webcam_{k}'))
        R, _ = cv2.Rodrigues(rvec)
        camera = Camera(mhp_format.MHP_K, R, t, 640, 480, mhp_format.MHP_DIST)
        ours = mhp_writer.projections_text(joints, camera).splitlines()
        real = (root / 'projections_2d' / 'data_1' / f'0_jointsCam_{k}.txt').read_text()
        for a, b in zip(ours, real.splitlines()):
            assert a.split()[0] == b.split()[0]
            assert np.allclose([float(v) for v in a.split()[1:]],
                               [float(v) for v in b.split()[1:]], atol=1e-6)
        box = (root / 'bounding_boxes' / 'data_1' / f'0_bbox_{k}.txt').read_text().split()
        assert mhp_writer.bbox_values(joints, camera) == tuple(int(v) for v in box[1::2])


# --------------------------------------------------------------------------- pose sources
def test_json_targets_with_matched_lengths_are_the_labels(tmp_path):
    rng = np.random.default_rng(4)
    targets = []
    for i in range(2):
        pose = sample_pose(rng)
        joints, _ = forward_kinematics(sample_shape(rng), pose.angles)
        targets.append(dict(keypoints_3d=(joints @ pose.root.T + [0, 0, 100.0 * i]).tolist(),
                            hand_side='left' if i else 'right'))
    path = tmp_path / 'targets.json'
    path.write_text(json.dumps(targets))
    cfg = GenerationConfig(poses_from=f'json:{path}', match_lengths=True, rig='sphere')
    out = tmp_path / 'out'
    generate_dataset(out, num=2, views=2, size=48, seed=0, cfg=cfg, test_fraction=0.0)
    for image, ann, _ in _records(out):
        world = np.reshape(ann['keypoints_3d_world'], (21, 3))
        target = np.array(targets[image['sequence_id']]['keypoints_3d'])
        assert np.linalg.norm(world - target, axis=1).max() < 0.5
        assert image['hand_side'] == targets[image['sequence_id']]['hand_side']


def test_loader_sources_read_real_labels(fixtures_dir):
    from poseforge.generation.targets import PoseSourceError, load_pose_source
    rhd = load_pose_source(f"rhd:{fixtures_dir / 'rhd'}", dict(ann_file='test_rhd.json'))
    assert len(rhd.frames) == 3 and not rhd.sequential
    assert {f.hand_side for f in rhd.frames} == {'left', 'right'}
    mhp = load_pose_source(f"mhp:{fixtures_dir / 'mhp'}")
    assert len(mhp.frames) == 1 and mhp.sequential      # four views, one frame
    with pytest.raises(PoseSourceError, match='does not exist'):
        load_pose_source('stb:/nonexistent/stb')
    with pytest.raises(PoseSourceError, match='unknown source'):
        load_pose_source('h36m:/x')


# --------------------------------------------------------------------------- extras
def test_backgrounds_folder_and_gallery(tmp_path):
    folder = tmp_path / 'bg'
    folder.mkdir()
    cv2.imwrite(str(folder / 'blue.png'), np.full((40, 50, 3), (255, 0, 0), np.uint8))  # BGR
    cfg = GenerationConfig(backgrounds=str(folder))
    out = tmp_path / 'out'
    generate_dataset(out, num=1, views=3, size=64, seed=1, cfg=cfg, test_fraction=0.0)
    image, _, _ = _records(out)[0]
    rgb = cv2.imread(str(out / 'images' / 'train' / image['file_name']))[..., ::-1]
    mask = cv2.imread(str(out / 'masks' / 'train' / image['mask_file']), cv2.IMREAD_UNCHANGED)
    far = cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0
    assert np.abs(np.median(rgb[far], axis=0) - [0, 0, 255]).max() < 40
    gallery = cv2.imread(str(out / 'gallery.png'))
    assert gallery is not None and gallery.shape[1] >= 3 * 2 * 64


def test_cli_sphere_sequences_and_errors(tmp_path, capsys):
    import generate_dataset as cli   # tools/ is on sys.path (conftest)
    assert cli.main(['--out', str(tmp_path / 'ok'), '--num', '1', '--views', '2', '--size', '48',
                     '--workers', '1', '--rig', 'sphere', '--sequence-length', '2',
                     '--test-fraction', '0']) == 0
    out = capsys.readouterr().out
    assert 'gallery' in out and 'images/s' in out
    assert len(list((tmp_path / 'ok' / 'images').rglob('*.jpg'))) == 4
    assert cli.main(['--out', str(tmp_path / 'bad'), '--num', '1', '--poses-from',
                     f'json:{tmp_path}/missing.json']) == 2
    assert 'missing.json' in capsys.readouterr().err


def test_stb_sequences_are_followed_frame_by_frame(tmp_path):
    """STB label files written here (left hand, five frames of one sequence, palm-centre root
    as STB labels it): windows of consecutive frames become sequences, joints matched."""
    import scipy.io
    from poseforge.skeletons import HAND21
    names = list(HAND21.keypoint_names)
    stb_order = ['wrist'] + [f'{finger}{part}' for finger in ('little', 'ring', 'middle',
                                                               'index', 'thumb')
                             for part in '1234']
    shape = sample_shape(np.random.default_rng(0))
    hands = []
    for k in range(5):
        joints, _ = forward_kinematics(shape, np.radians(np.tile([0, 10 + 10 * k, 20 + 10 * k,
                                                                  10 + 5 * k], (5, 1))))
        hands.append(joints * [-1.0, 1.0, 1.0] + [0.0, 0.0, 400.0])     # a left hand
    hands = np.stack(hands)
    labels = hands.copy()
    labels[:, 0] = hands[:, 13] + (hands[:, 0] - hands[:, 13]) / 2     # STB's palm centre
    (tmp_path / 'stb' / 'labels').mkdir(parents=True)
    (tmp_path / 'stb' / 'images' / 'B1Counting').mkdir(parents=True)
    scipy.io.savemat(str(tmp_path / 'stb' / 'labels' / 'B1Counting_SK.mat'),
                     {'handPara': labels[:, [names.index(n) for n in stb_order]]
                      .transpose(2, 1, 0)})
    cfg = GenerationConfig(poses_from=f"stb:{tmp_path / 'stb'}", sequence_length=3,
                           match_lengths=True)
    out = tmp_path / 'out'
    generate_dataset(out, num=2, views=1, size=48, seed=0, cfg=cfg, test_fraction=0.0,
                     source_args=dict(sequences=['B1Counting']))
    records = _records(out)
    assert len(records) == 6
    for image, ann, _ in records:
        assert image['hand_side'] == 'left'
        source_frame = image['sequence_id'] + image['frame_id']      # windows start at 0, 1
        world = np.reshape(ann['keypoints_3d_world'], (21, 3))
        assert np.linalg.norm(world - hands[source_frame], axis=1).max() < 0.5
