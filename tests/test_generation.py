"""The synthetic hand generator: mesh, pose prior, cameras, rasteriser, labels, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from poseforge.generation.cameras import (Camera, CameraConfig, intrinsics, look_at,
                                          project_points, ring_cameras)
from poseforge.generation.hand_model import (HAND_PART_MIN, NUM_JOINTS, PART_FINGER0,
                                             default_shape, forward_kinematics, sample_shape)
from poseforge.generation.implicit_surface import VOXEL_MM, implicit_parts
from poseforge.generation.pose_prior import (FINGER_LIMITS_DEG, limits_rad, sample_angles,
                                             sample_pose, within_limits)
from poseforge.generation.renderer import depth_to_uint16, rasterize
from poseforge.generation.skinning import skin
from poseforge.generation.spin_match import spin_match
from poseforge.generation.synth_hands import GenerationConfig, generate_dataset, render_sample
from poseforge.generation.template import hand_template

SMALL = dict(num=4, views=3, size=96, test_fraction=0.25)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('gen')
    generate_dataset(out, seed=11, workers=1, **SMALL)
    return out


def _load(root: Path, split: str) -> dict:
    return json.loads((root / 'annotations' / f'{split}.json').read_text())


# --------------------------------------------------------------------------- hand model
def test_posed_hand_mesh_is_a_valid_closed_trimesh():
    rng = np.random.default_rng(0)
    joints, _ = forward_kinematics(sample_shape(rng), sample_angles(rng))
    pose = spin_match(hand_template(), joints, match_lengths=True, wrist_angles=(0.3, -0.1)).pose
    mesh = skin(hand_template(), pose)
    tm = mesh.to_trimesh()
    assert isinstance(tm, trimesh.Trimesh)
    assert 1000 < len(tm.faces) < 25000
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-6)
    assert set(np.unique(mesh.face_part)) >= set(range(1, PART_FINGER0 + 15))


def test_forward_kinematics_keeps_bone_lengths_and_tip_on_the_skin():
    shape = default_shape()
    angles = np.radians(np.tile([5.0, 40.0, 60.0, 30.0], (5, 1)))
    joints, _ = forward_kinematics(shape, angles)
    fingers = joints[1:].reshape(5, 4, 3)
    lengths = np.linalg.norm(np.diff(fingers, axis=1), axis=2)
    assert np.allclose(lengths, shape.lengths, atol=1e-9)
    # The template's skin is the zero level of its implicit hand, whose distal capsules end at
    # the fingertip joints: the tips lie on that level, and so do the mesh vertices.
    template = hand_template()
    parts = implicit_parts(shape, *forward_kinematics(shape, np.zeros((5, 4))))
    assert np.abs(parts.union(template.joints[4::4])).max() < 0.05
    assert np.median(np.abs(parts.union(template.vertices))) < 0.05
    nearest = np.linalg.norm(template.vertices[None] - template.joints[4::4, None], axis=2)
    assert np.all(nearest.min(1) < VOXEL_MM)


def test_flexion_bends_fingers_towards_the_palm():
    shape = default_shape()
    straight, _ = forward_kinematics(shape, np.zeros((5, 4)))
    bent, _ = forward_kinematics(shape, np.radians(np.tile([0.0, 60.0, 60.0, 30.0], (5, 1))))
    # The palm faces +z in the hand frame: flexed fingertips move to +z.
    assert np.all(bent[8::4, 2] > straight[8::4, 2] + 20)


# --------------------------------------------------------------------------- pose prior
def test_sampled_angles_stay_within_joint_limits():
    rng = np.random.default_rng(5)
    lim = limits_rad()
    samples = np.stack([sample_pose(rng).angles for _ in range(400)])
    assert np.all(samples >= lim[..., 0] - 1e-12) and np.all(samples <= lim[..., 1] + 1e-12)
    assert all(within_limits(a) for a in samples)
    # The prior uses the range, not a corner of it: flexion spans most of its limits.
    spread = samples.max(0) - samples.min(0)
    assert np.all(spread[1:, 1:] > 0.6 * (lim[1:, 1:, 1] - lim[1:, 1:, 0]))


def test_within_limits_rejects_out_of_range_angles():
    angles = np.radians(FINGER_LIMITS_DEG.mean(axis=2))
    assert within_limits(angles)
    angles[2, 2] = np.radians(FINGER_LIMITS_DEG[2, 2, 1] + 1.0)
    assert not within_limits(angles)


def test_root_rotation_is_a_proper_rotation():
    rng = np.random.default_rng(1)
    for _ in range(20):
        root = sample_pose(rng).root
        assert np.allclose(root @ root.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(root), 1.0)


# --------------------------------------------------------------------------- cameras
def test_look_at_puts_target_on_principal_point_and_up_up():
    K = intrinsics(200.0, 101, 81)
    R, t = look_at([300.0, 50.0, 200.0], [10.0, 20.0, -5.0])
    cam = Camera(K, R, t, 101, 81)
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    assert np.allclose(cam.center, [300.0, 50.0, 200.0])
    assert np.allclose(cam.project(np.array([[10.0, 20.0, -5.0]])), [[50.0, 40.0]])
    above = cam.project(np.array([[10.0, 40.0, -5.0]]))
    assert above[0, 1] < 40.0   # world up (+y) is up (smaller row) in the image


def test_ring_cameras_frame_the_hand():
    rng = np.random.default_rng(2)
    joints, _ = forward_kinematics(default_shape(), sample_angles(rng))
    radii = np.full(NUM_JOINTS, 8.0)
    cams = ring_cameras(rng, joints, radii, 6, 128, 128, CameraConfig())
    for cam in cams:
        uv = cam.project(joints)
        assert uv.min() >= 0 and uv.max() <= 127
        side = np.ptp(uv, axis=0).max()
        assert 0.3 * 128 < side < 0.8 * 128



def test_ring_plus_sphere_rig_draws_one_of_the_two_per_unit():
    """Each call draws its kind from the stream, then places exactly that kind's cameras; over
    many units both kinds occur about evenly."""
    from poseforge.generation.rigs import make_rig
    joints, _ = forward_kinematics(default_shape(), sample_angles(np.random.default_rng(2)))
    radii = np.full(NUM_JOINTS, 8.0)
    kinds = []
    for seed in range(40):
        mixed = make_rig('ring+sphere', np.random.default_rng(seed), joints, radii, 2, 128)
        rng = np.random.default_rng(seed)
        kind = 'sphere' if rng.uniform() < 0.5 else 'ring'
        alone = make_rig(kind, rng, joints, radii, 2, 128)
        assert all(np.array_equal(a.R, b.R) and np.array_equal(a.t, b.t)
                   and np.array_equal(a.K, b.K) for a, b in zip(mixed, alone))
        kinds.append(kind)
    assert 10 < kinds.count('sphere') < 30


# --------------------------------------------------------------------------- rasteriser
def test_rasterize_depth_and_coverage_of_a_box():
    box = trimesh.creation.box(extents=(40.0, 40.0, 40.0))
    verts = np.asarray(box.vertices) + [0.0, 0.0, 200.0]   # camera frame: 200 mm ahead
    K = intrinsics(100.0, 64, 64)
    frags = rasterize(verts, np.asarray(box.faces), K, 64, 64)
    covered = frags.face >= 0
    # Front face at z = 180: it spans +-20 mm -> +-100 * 20 / 180 = +-11.1 px around 31.5.
    assert np.allclose(frags.depth[covered], 180.0, atol=1e-3)
    cols = np.nonzero(covered.any(0))[0]
    assert cols.min() == 21 and cols.max() == 42
    assert np.all(frags.depth[~covered] == 0)
    assert np.allclose(frags.bary[covered].sum(-1), 1.0, atol=1e-5)


def test_depth_to_uint16_rounds_and_clips():
    out = depth_to_uint16(np.array([[0.0, 412.6, 1e6]], dtype=np.float32))
    assert out.dtype == np.uint16 and out.tolist() == [[0, 413, 65535]]


# --------------------------------------------------------------------------- samples
def test_render_sample_outputs_and_mask_covers_visible_joints():
    cfg = GenerationConfig(views=3, size=96)
    sample = render_sample(3, seed=7, cfg=cfg)
    tips = np.zeros(NUM_JOINTS, dtype=bool)
    tips[4::4] = True
    for label, render in zip(sample.labels, sample.renders):
        assert render.rgb.shape == (96, 96, 3) and render.rgb.dtype == np.uint8
        assert render.depth.dtype == np.float32 and render.mask.dtype == np.uint8
        assert np.array_equal(render.mask > 0, render.part >= HAND_PART_MIN)
        hand_depth = render.depth[render.mask > 0]
        assert np.all((hand_depth > 50) & (hand_depth < 5000))
        visible = label.visibility == 2
        # The hand is not lost in the background: visible joints exist in every view.
        assert visible.sum() >= 5
        cols, rows = np.rint(label.keypoints).astype(int).T
        hand = render.part > 0   # the wrist sits where the forearm meets the palm
        grown = hand | np.roll(hand, 1, 0) | np.roll(hand, -1, 0) | np.roll(hand, 1, 1) | (
            np.roll(hand, -1, 1))
        # Inner joints fall on the hand; fingertips end the skin, so within a pixel of it.
        assert np.all(hand[rows, cols][visible & ~tips])
        assert np.all(grown[rows, cols][visible & tips])


def test_labels_in_json_are_exact_projections_and_agree_across_views(small_dataset):
    worlds: dict[int, list[np.ndarray]] = {}
    for split in ('train', 'test'):
        data = _load(small_dataset, split)
        images = {im['id']: im for im in data['images']}
        for ann in data['annotations']:
            image = images[ann['image_id']]
            K, R, t = (np.array(image[k]) for k in ('K', 'R', 't'))
            kp3d = np.array(ann['keypoints_3d']).reshape(21, 3)
            kp2d = np.array(ann['keypoints']).reshape(21, 3)[:, :2]
            assert np.abs(project_points(K, kp3d) - kp2d).max() < 1e-3
            worlds.setdefault(image['sample_id'], []).append((kp3d - t) @ R)
    assert len(worlds) == SMALL['num']
    for views in worlds.values():
        assert len(views) == SMALL['views']
        assert max(np.abs(v - views[0]).max() for v in views) < 1e-3


def test_json_layout_and_split_by_sample(small_dataset):
    train, test = _load(small_dataset, 'train'), _load(small_dataset, 'test')
    assert len(test['images']) == SMALL['views']          # 1 of 4 samples
    assert {im['sample_id'] for im in train['images']}.isdisjoint(
        {im['sample_id'] for im in test['images']})
    for split, data in (('train', train), ('test', test)):
        assert data['info']['seed'] == 11 and data['info']['split'] == split
        assert data['categories'][0]['keypoints'][0] == 'wrist'
        for im, ann in zip(data['images'], data['annotations']):
            assert (small_dataset / 'images' / split / im['file_name']).is_file()
            assert ann['image_id'] == im['id'] and len(ann['keypoints']) == 63
            x, y, w, h = ann['bbox']
            assert w > 0 and h > 0 and x >= -0.5 and x + w <= im['width'] - 0.5 + 1e-9
            assert ann['num_keypoints'] == sum(v > 0 for v in ann['keypoints'][2::3])


def test_same_seed_same_bytes_whatever_the_workers(small_dataset, tmp_path):
    generate_dataset(tmp_path / 'again', seed=11, workers=2, **SMALL)
    assert _files(tmp_path / 'again') == _files(small_dataset)


def test_different_seed_differs(small_dataset, tmp_path):
    generate_dataset(tmp_path / 'other', seed=12, workers=1, **SMALL)
    other = _files(tmp_path / 'other')
    ours = _files(small_dataset)
    assert other['annotations/train.json'] != ours['annotations/train.json']
    common = [k for k in ours if k.startswith('images/') and k in other]
    assert all(other[k] != ours[k] for k in common)


def test_depth_and_masks_are_written_by_default(tmp_path):
    import cv2
    generate_dataset(tmp_path, num=1, views=1, size=64, test_fraction=0.0)
    image = _load(tmp_path, 'train')['images'][0]
    depth = cv2.imread(str(tmp_path / 'depth' / 'train' / image['depth_file']),
                       cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(tmp_path / 'masks' / 'train' / image['mask_file']),
                      cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (64, 64)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert np.all(depth[mask > 0] > 0)


def test_cli_writes_and_reports(tmp_path, capsys):
    import generate_dataset as cli   # tools/ is on sys.path (conftest)
    assert cli.main(['--out', str(tmp_path), '--num', '2', '--views', '1', '--size', '64',
                     '--workers', '1', '--test-fraction', '0.5']) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and 'images/s' in out
    assert len(list((tmp_path / 'images').rglob('*.jpg'))) == 2
