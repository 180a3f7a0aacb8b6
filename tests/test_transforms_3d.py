"""3D-consistent geometric transforms: a flipped crop of a right hand is a left hand whose 3D
joints, K and depth map agree with the flipped image; crops with rotation keep the depth map
on the joints; ``meta`` stays in the original image's frame; STB depth is registered into the
colour camera."""
from __future__ import annotations

import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from poseforge.codecs.relative_depth import project_points
from poseforge.datasets.synth_hand import SynthHandDataset
from poseforge.datasets.transforms import flip_camera_geometry
from poseforge.datasets.transforms.affine import transform_points
from poseforge.datasets.transforms.depth import register_stb_depth
from poseforge.datasets.transforms.presets import topdown_3d_pipelines

INPUT = (128, 128)


@pytest.fixture(scope='module')
def synth(tiny_synth) -> SynthHandDataset:
    return SynthHandDataset(ann_file='annotations/train.json', data_root=str(tiny_synth),
                            serialize_data=False)


def pipeline(flip: bool, rotate: float = 0.0, pack: bool = False) -> Compose:
    steps = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=1.25),
             dict(type='RandomFlip', prob=1.0 if flip else 0.0),
             dict(type='RandomBBoxTransform', shift_prob=0.0, scale_prob=0.0,
                  rotate_factor=rotate, rotate_prob=1.0 if rotate else 0.0),
             dict(type='TopdownAffine', input_size=INPUT), dict(type='LoadDepth'),
             dict(type='GenerateDepthTarget', depth_map_size=INPUT)]
    if pack:
        steps.append(dict(type='PackPoseInputs'))
    with DefaultScope.overwrite_default_scope('poseforge'):
        return Compose(steps)


def test_a_flipped_right_hand_is_a_mirrored_left_hand(synth):
    info = synth.get_data_info(0)
    assert info['hand_side'] == 'right'
    plain = pipeline(flip=False)(synth.get_data_info(0))
    flipped = pipeline(flip=True)(synth.get_data_info(0))
    # the 3D joints, K and hand side describe the flipped image: K projects the mirrored
    # joints exactly onto the flipped 2D keypoints
    assert flipped['hand_side'] == 'left' and plain['hand_side'] == 'right'
    assert np.allclose(flipped['keypoints_3d'], plain['keypoints_3d'] * [-1, 1, 1])
    for sample in (plain, flipped):
        assert np.abs(project_points(sample['keypoints_3d'].astype(np.float64),
                                     sample['K'].astype(np.float64))
                      - sample['keypoints']).max() < 1e-3
    # relative depths do not change under a mirror; the depth map mirrors with the image
    # (pixel x of the flipped crop is pixel 128 - x of the plain one: mmpose's box centre
    # maps to (w / 2, h / 2), so the crop's own mirror axis is half a pixel off)
    assert np.array_equal(flipped['keypoint_depth'], plain['keypoint_depth'])
    assert np.abs(flipped['img'][:, 1:].astype(int) - plain['img'][:, :0:-1]).mean() < 2.0
    assert np.mean(flipped['depth_map'][0, :, 1:] != plain['depth_map'][0, :, :0:-1]) < 0.01
    assert (plain['depth_map'] < 1).mean() > 0.05  # there is a hand in the map
    uv_plain, uv_flip = plain['pose_uvd'][:, 0], flipped['pose_uvd'][:, 0]
    assert np.allclose(uv_flip * INPUT[0], INPUT[0] - uv_plain * INPUT[0], atol=1e-3)
    # R, t and the distortion follow the same mirror (t mirrored, p2 negated)
    world = flip_camera_geometry(dict(R=np.eye(3), t=np.array([1.0, 2.0, 3.0]),
                                      dist=np.array([0.1, 0.2, 0.3, 0.4, 0.5])),
                                 (100, 80), 'horizontal')
    assert np.allclose(world['t'], [-1, 2, 3]) and np.allclose(world['dist'],
                                                               [0.1, 0.2, 0.3, -0.4, 0.5])
    assert np.allclose(world['R'], np.diag([-1.0, 1, 1]))


def test_meta_stays_in_the_original_image(synth):
    """After packing, a flipped sample's meta is the original's: its K projects its 3D onto its
    2D keypoints, which input_to_image maps the crop's keypoints onto, and the hand side is
    the original's."""
    original = synth.get_data_info(1)
    packed = pipeline(flip=True, rotate=30.0, pack=True)(synth.get_data_info(1))
    meta = packed['data_samples']['meta']
    assert meta['hand_side'] == original['hand_side']
    assert np.allclose(meta['keypoints_3d'], original['keypoints_3d'])
    assert np.allclose(meta['K'], original['K'], atol=1e-3)
    projected = project_points(meta['keypoints_3d'].astype(np.float64),
                               meta['K'].astype(np.float64))
    assert np.abs(projected - meta['keypoints']).max() < 1e-2
    crop_to_image = transform_points(meta['transformed_keypoints'], meta['input_to_image'])
    assert np.abs(crop_to_image - meta['keypoints']).max() < 1e-2
    for key in ('keypoint_depth', 'keypoint_depth_weights', 'depth_map', 'pose_uvd'):
        assert key in packed['data_samples'], key


@pytest.mark.parametrize('flip,rotate', [(False, 0.0), (True, 40.0)])
def test_depth_map_lies_on_the_joints(synth, flip, rotate):
    """At most joints' crop pixels the depth map holds about the joint's own depth (the skin is
    a few mm in front of a joint centre; occluded joints lie behind another finger): the map
    and the crop line up through flips and rotations. A mirrored map does not."""
    aligned, mirrored = [], []
    for idx in range(6):
        sample = pipeline(flip=flip, rotate=rotate)(synth.get_data_info(idx))
        uv = np.round(sample['transformed_keypoints']).astype(int)
        inside = ((uv >= 0) & (uv < INPUT[0])).all(axis=1)
        joint = sample['pose_uvd'][inside, 2]
        depth = sample['depth_map'][0]
        # 1 bone length (~35 mm) is 1 / 8 on the map's scale: within ~0.6 bone of the joint
        aligned.append(np.abs(depth[uv[inside, 1], uv[inside, 0]] - joint) < 0.08)
        mirrored.append(np.abs(depth[:, ::-1][uv[inside, 1], uv[inside, 0]] - joint) < 0.08)
    aligned, mirrored = np.concatenate(aligned).mean(), np.concatenate(mirrored).mean()
    assert aligned > 0.6 and aligned - mirrored > 0.2, (aligned, mirrored)


def test_3d_pipelines_keep_or_drop_flips():
    codec = dict(type='MSRAHeatmap', input_size=INPUT, heatmap_size=(16, 16), sigma=1.0)
    train, test = topdown_3d_pipelines(codec, depth_format='mm_png', depth_map_size=(64, 64))
    types = [t['type'] for t in train]
    assert 'RandomFlip' in types and types[-3:] == ['LoadDepth', 'GenerateDepthTarget',
                                                    'PackPoseInputs']
    assert 'LoadDepth' not in [t['type'] for t in test]
    no_flip, _ = topdown_3d_pipelines(codec, flip=False)
    assert 'RandomFlip' not in [t['type'] for t in no_flip]


def test_stb_depth_is_registered_into_the_colour_camera():
    """A fronto-parallel plane 500 mm in front of STB's depth camera, seen by the colour camera:
    every registered pixel holds the plane's depth in the colour frame, without holes."""
    from poseforge.datasets.hand_conversions import rodrigues
    from poseforge.datasets.stb import STB_K_COLOR, STB_SK_RVEC, STB_SK_T
    depth = np.full((480, 640), 500.0, dtype=np.float32)
    registered = register_stb_depth(depth)
    assert registered.shape == (480, 640)
    centre = registered[140:340, 220:420]
    assert (centre > 0).all()  # the 2 x 2 splat leaves no holes
    # the colour camera's ray through a pixel meets the plane (z_depth = 500) at this depth
    R = rodrigues(STB_SK_RVEC)
    ray = np.linalg.inv(STB_K_COLOR) @ np.array([320.0, 240.0, 1.0])  # colour frame
    # X_depth = R X_color + T on the plane z_depth = 500: solve for the scale s of s * ray
    s = (500.0 - STB_SK_T[2]) / (R @ ray)[2]
    assert registered[240, 320] == pytest.approx(s * ray[2], abs=1.5)
