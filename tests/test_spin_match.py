"""MVHM spin match: the skinned template fitted to random, mesh and real (MHP) targets."""
from __future__ import annotations

import numpy as np
import pytest

from poseforge.generation.hand_model import forward_kinematics, sample_shape
from poseforge.generation.pose_prior import axis_angle, sample_pose
from poseforge.generation.sequences import ease, interpolate, key_positions
from poseforge.generation.skinning import MIRROR, SkeletonPose, rest_pose, skin
from poseforge.generation.spin_match import bone_angles_deg, rotations_between, spin_match
from poseforge.generation.template import DEPTH, METACARPALS, NUM_JOINTS, PARENT, hand_template

TEMPLATE = hand_template()


def _random_targets(count: int, seed: int = 0):
    """Targets built independently of the template: the prior's angles through the anatomical
    forward kinematics of a random hand shape, turned and moved anywhere."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        shape = sample_shape(rng)
        pose = sample_pose(rng)
        joints, bones = forward_kinematics(shape, pose.angles)
        offset = rng.normal(0.0, 300.0, 3)
        yield joints @ pose.root.T + offset, bones, pose


# --------------------------------------------------------------------------- the template
def test_template_is_one_watertight_skinned_mesh():
    mesh = TEMPLATE.to_trimesh()
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.euler_number == 2 and len(mesh.split(only_watertight=False)) == 1
    weights = TEMPLATE.bone_weights()
    assert np.allclose(weights.sum(1), 1.0) and weights.min() >= 0
    # Every bone moves skin mostly on its own; joints (and the palm) blend their bones.
    assert all(len(TEMPLATE.core_vertices(s, 0.5)) >= 100 for s in range(NUM_JOINTS))
    assert (np.count_nonzero(weights > 0.05, axis=1) >= 2).mean() > 0.2
    # The rest pose reproduces the rest mesh.
    posed = skin(TEMPLATE, rest_pose(TEMPLATE))
    assert np.allclose(posed.vertices, TEMPLATE.vertices) and np.allclose(posed.normals,
                                                                          TEMPLATE.normals)


def test_rotations_between_is_minimal_and_exact():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = rng.normal(size=(50, 3))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    b[0] = -a[0]                                   # antiparallel
    b[1] = a[1]                                    # identical
    rot = rotations_between(a, b)
    assert np.allclose(np.einsum('nij,nj->ni', rot, a), b, atol=1e-9)
    assert np.allclose(rot @ np.swapaxes(rot, 1, 2), np.eye(3), atol=1e-9)
    # Minimal: the axis is perpendicular to both, so a x b is left in place.
    axis = np.cross(a[2:], b[2:])
    assert np.allclose(np.einsum('nij,nj->ni', rot[2:], axis), axis, atol=1e-9)


# --------------------------------------------------------------------------- joints
def test_random_targets_bone_directions_and_matched_lengths():
    errors = []
    for i, (target, _, pose) in enumerate(_random_targets(24)):
        side = 'left' if i % 3 == 0 else 'right'
        if side == 'left':
            target = target * MIRROR
        free = spin_match(TEMPLATE, target, hand_side=side).pose
        errors.append(bone_angles_deg(free.world_joints(), target))
        # Own lengths: the fit starts at the target's wrist and keeps the template's bones.
        lengths = np.linalg.norm(free.joints - free.joints[np.maximum(PARENT, 0)], axis=1)
        assert np.allclose(lengths[1:], TEMPLATE.lengths[1:])
        assert np.allclose(free.world_joints()[0], target[0])
        matched = spin_match(TEMPLATE, target, hand_side=side, match_lengths=True).pose
        assert np.abs(matched.world_joints() - target).max() < 0.5
        assert np.linalg.norm(matched.world_joints() - target, axis=1).max() < 1e-6
    errors = np.concatenate(errors)
    assert np.median(errors) < 1.0 and errors.max() < 3.0


def test_twist_from_joints_recovers_each_hinge_axis():
    """A finger's PIP/DIP (thumb MCP/IP) flex about one axis: where the next bone is bent, the
    fitted bone's flexion axis must be the anatomical one the target was built with."""
    checked = 0
    for target, bones, pose in _random_targets(20, seed=3):
        frames = spin_match(TEMPLATE, target).pose.frames(TEMPLATE)
        for f in range(5):
            for s in range(2):                    # bones followed by a hinge joint
                if abs(pose.angles[f, s + 2]) < np.radians(10):
                    continue
                true_axis = pose.root @ bones[f, s][:, 0]
                for slot in (2 + 4 * f + s, 3 + 4 * f + s):   # the bone and its child
                    cos = frames[slot][:, 0] @ true_axis
                    assert np.degrees(np.arccos(min(cos, 1.0))) < 1.0
                    checked += 1
    assert checked > 100


def test_twist_recovered_against_a_target_mesh():
    """Twist a bone about its own axis (no joint moves): joints alone cannot see it, the
    target mesh's vertices can."""
    target, _, _ = next(_random_targets(1, seed=7))
    base = spin_match(TEMPLATE, target).pose
    for slot, twist_deg in ((8, 25.0), (16, -20.0), (10, 15.0)):
        deltas = base.deltas.copy()
        frames = base.frames(TEMPLATE)
        turn = axis_angle(frames[slot][:, 1], np.radians(twist_deg))
        deltas[slot] = turn @ deltas[slot]
        if slot % 4 != 0:                          # a child follows its parent's twist
            child = slot + 1
            while child % 4 != 1 and child <= 20:
                deltas[child] = turn @ deltas[child]
                child += 1
        twisted = SkeletonPose(base.root, deltas, base.scales, base.joints)
        assert np.allclose(twisted.joints, base.joints)        # no joint moved for slot 8, 16
        vertices = skin(TEMPLATE, twisted).vertices
        target_joints = base.joints if slot % 4 == 0 else _chain(twisted)
        fit = spin_match(TEMPLATE, target_joints, target_vertices=vertices).pose
        wanted = twisted.frames(TEMPLATE)[slot][:, 0]
        error = np.degrees(np.arccos(min(fit.frames(TEMPLATE)[slot][:, 0] @ wanted, 1.0)))
        assert error < 1.0, (slot, error)
        if slot % 4 == 0:                                       # joints alone miss it
            blind = spin_match(TEMPLATE, target_joints).pose.frames(TEMPLATE)[slot][:, 0]
            assert np.degrees(np.arccos(min(blind @ wanted, 1.0))) > abs(twist_deg) - 1


def _chain(pose: SkeletonPose) -> np.ndarray:
    from poseforge.generation.skinning import chain_joints
    return chain_joints(TEMPLATE, pose.joints[0], pose.deltas, pose.scales)


# --------------------------------------------------------------------------- real labels
def test_mhp_fixture_joints_are_matched(fixtures_dir):
    import poseforge.datasets.mhp  # noqa: F401  (registers MhpDataset)
    from poseforge.registry import DATASETS
    dataset = DATASETS.build(dict(type='MhpDataset', data_root=str(fixtures_dir / 'mhp'),
                                  root='wrist', test_mode=True))
    worlds = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        worlds.append((info['keypoints_3d'] - info['t']) @ info['R'])
    target = np.asarray(worlds[0], dtype=np.float64)
    assert np.abs(np.asarray(worlds) - target).max() < 1e-2    # one frame, four views
    free = spin_match(TEMPLATE, target).pose
    errors = bone_angles_deg(free.world_joints(), target)
    assert np.median(errors) < 1.0 and errors.max() < 3.0
    matched = spin_match(TEMPLATE, target, match_lengths=True).pose
    assert np.linalg.norm(matched.world_joints() - target, axis=1).max() < 0.5
    # The fitted palm faces where MHP's own PALM_NORMAL says (Leap: out of the palm).
    normal = np.array([-0.0834591, -0.994786, -0.0586068])
    assert matched.root[:, 2] @ normal > 0.9


def test_bad_targets_fail_clearly():
    target, _, _ = next(_random_targets(1))
    broken = target.copy()
    broken[6] = broken[5]
    with pytest.raises(ValueError, match=r'joints \[6\]'):
        spin_match(TEMPLATE, broken)
    with pytest.raises(ValueError, match='21 x 3'):
        spin_match(TEMPLATE, target[:20])


# --------------------------------------------------------------------------- sequences
def test_interpolated_sequence_is_smooth_and_keeps_bones():
    targets = list(_random_targets(2, seed=11))
    keys = [spin_match(TEMPLATE, t, match_lengths=True).pose for t, _, _ in targets]
    keys[1] = spin_match(TEMPLATE, targets[1][0], lengths=_lengths(keys[0])).pose
    positions = key_positions(13, spacing=12)
    assert positions.tolist() == [0, 12]
    frames = interpolate(TEMPLATE, keys, positions, 13)
    assert np.allclose(frames[0].joints, keys[0].joints)
    assert np.allclose(frames[-1].joints, keys[1].joints, atol=1e-6)
    for pose in frames:                       # forward kinematics: bone lengths never change
        assert np.allclose(_lengths(pose), _lengths(keys[0]))
    # Eased slerp: the root turns monotonically, slowly at the keys, fastest mid-way.
    angle = [np.arccos(np.clip((np.trace(keys[0].root.T @ p.root) - 1) / 2, -1, 1))
             for p in frames]
    steps = np.diff(angle)
    assert np.all(steps >= -1e-9) and steps[6] > steps[0] and steps[5] > steps[-1]
    assert np.isclose(ease(0.5), 0.5) and ease(0.0) == 0.0 and ease(1.0) == 1.0


def _lengths(pose: SkeletonPose) -> np.ndarray:
    return np.linalg.norm(pose.joints - pose.joints[np.maximum(PARENT, 0)], axis=1)


def test_depth_tables_are_consistent():
    assert DEPTH[0] == 0 and set(DEPTH[METACARPALS]) == {1}
    assert all(DEPTH[j] == DEPTH[PARENT[j]] + 1 for j in range(1, NUM_JOINTS) if PARENT[j] > 0)
