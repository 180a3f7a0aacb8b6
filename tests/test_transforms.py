"""Top-down data path: loading, box/flip, fused affine, photometric, targets, packing."""
from __future__ import annotations

import os.path as osp
import struct

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from poseforge.datasets.collate import pose_collate
from poseforge.datasets.transforms import (PHOTOMETRIC_DISTORTION, GenerateTarget,
                                           GetBBoxCenterScale, LoadImage, PackPoseInputs,
                                           PhotometricAug, RandomBBoxTransform, RandomFlip,
                                           TopdownAffine, fix_aspect_ratio, get_image,
                                           get_warp_matrix, jpeg_header)
from poseforge.datasets.transforms.affine import max_reduction
from poseforge.registry import TRANSFORMS
from tests import reference_datapath as ref

INPUT = (256, 256)
CODEC = dict(type='MSRAHeatmap', input_size=INPUT, heatmap_size=(64, 64), sigma=2.0)
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]

needs_fixtures = pytest.mark.skipif(not osp.isdir(ref.ONEHAND10K),
                                    reason='shared OneHand10K fixtures not available')


def sample_with_image(img: np.ndarray, keypoints, flip_indices=None, visible=None,
                      bbox=(0, 0, 10, 10)) -> dict:
    keypoints = np.asarray(keypoints, dtype=np.float32)
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                bbox=np.asarray(bbox, dtype=np.float32), keypoints=keypoints,
                keypoints_visible=(np.ones(len(keypoints), np.float32) if visible is None
                                   else np.asarray(visible, np.float32)),
                flip_indices=list(range(len(keypoints))) if flip_indices is None
                else flip_indices, img_path='memory', id=0, img_id=0, bbox_score=1.0)


def crop(results: dict, center, scale, rot: float, flip: bool) -> dict:
    """RandomFlip (forced) + a fixed box + TopdownAffine, as the training pipeline runs them."""
    results['bbox_center'] = np.asarray(center, dtype=np.float32)
    results['bbox_scale'] = np.asarray(scale, dtype=np.float32)
    if flip:
        RandomFlip(prob=1.0)(results)
    results['bbox_rotation'] = rot
    return TopdownAffine(INPUT)(results)


# --------------------------------------------------------------------------- loading
def test_load_image_rgb_and_shapes(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[..., 2] = 255  # red in RGB
    path = str(tmp_path / 'red.png')
    cv2.imwrite(path, img[..., ::-1])
    out = LoadImage()(dict(img_path=path))
    assert out['img'].dtype == np.uint8 and out['img'].shape == (20, 30, 3)
    assert out['img_shape'] == out['ori_shape'] == (20, 30)
    assert (out['img'][..., 2] == 255).all() and (out['img'][..., :2] == 0).all()
    assert LoadImage(to_float32=True)(dict(img_path=path))['img'].dtype == np.float32


@pytest.mark.parametrize('reduce', ['never', 'auto'])
def test_load_image_missing_file_names_it(tmp_path, reduce):
    path = str(tmp_path / 'nope.jpg')
    with pytest.raises(OSError, match='nope.jpg'):
        LoadImage(reduce=reduce)(dict(img_path=path))


@pytest.mark.parametrize('reduce', ['never', 'auto'])
@pytest.mark.parametrize('content', [b'this is not a jpeg at all' * 40, b''])
def test_load_image_corrupt_file_names_it(tmp_path, reduce, content):
    path = tmp_path / 'corrupt.jpg'
    path.write_bytes(content)
    with pytest.raises(OSError, match='corrupt.jpg') as info:
        LoadImage(reduce=reduce)(dict(img_path=str(path)))
    assert 'empty' in str(info.value) or 'decode' in str(info.value)


@needs_fixtures
def test_lazy_load_corrupt_scan_raises_oserror_at_decode(tmp_path):
    """A JPEG whose header is fine but whose data is garbage fails when it is decoded."""
    data = open(osp.join(ref.ONEHAND10K, '9.jpg'), 'rb').read()
    sos = data.index(b'\xff\xda')
    path = tmp_path / 'broken.jpg'
    path.write_bytes(data[:sos + 14] + bytes(range(256)) * 8)
    results = LoadImage(reduce='auto')(dict(img_path=str(path)))
    assert 'img' not in results and results['img_shape'] == (358, 238)
    results.update(bbox_center=np.array([100, 100], np.float32),
                   bbox_scale=np.array([80, 80], np.float32))
    with pytest.raises(OSError, match='broken.jpg'):
        TopdownAffine(INPUT)(results)


def _jpeg_with_orientation(img: np.ndarray, orientation: int) -> bytes:
    data = cv2.imencode('.jpg', img)[1].tobytes()
    tiff = (b'MM\x00\x2a' + struct.pack('>IH', 8, 1)
            + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack('>I', 0))
    app1 = b'Exif\x00\x00' + tiff
    return data[:2] + b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1 + data[2:]


def test_jpeg_header_and_exif_orientation(tmp_path):
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :10] = 255
    assert jpeg_header(cv2.imencode('.jpg', img)[1]) == (40, 80, 1)
    path = tmp_path / 'rotated.jpg'
    path.write_bytes(_jpeg_with_orientation(img, 6))
    assert jpeg_header(path.read_bytes()) == (40, 80, 6)
    assert jpeg_header(b'\x89PNG....') is None
    # the shapes are of the image as displayed, as cv2.imread decodes it (orientation applied)
    out = LoadImage(reduce='auto')(dict(img_path=str(path)))
    assert out['img_shape'] == (80, 40)
    assert get_image(out).shape == cv2.imread(str(path)).shape == (80, 40, 3)


# --------------------------------------------------------------------------- box and flip
def test_bbox_center_scale():
    out = GetBBoxCenterScale(padding=1.25)(dict(bbox=np.array([10, 20, 50, 100], np.float32)))
    np.testing.assert_allclose(out['bbox_center'], [30, 60])
    np.testing.assert_allclose(out['bbox_scale'], [50, 100])
    assert out['bbox_center'].dtype == out['bbox_scale'].dtype == np.float32
    out = GetBBoxCenterScale(padding=2.0)(dict(bbox=np.array([0, 0, 10, 4], np.float32)))
    np.testing.assert_allclose(out['bbox_scale'], [20, 8])


def test_flip_reorders_keypoints_and_mirrors_coordinates():
    w, h = 100, 60
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 50, (17, 2)).astype(np.float32)
    vis = (np.arange(17) % 3 != 0).astype(np.float32)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    results = sample_with_image(img.copy(), kp, COCO_FLIP, vis, bbox=(10, 5, 40, 30))
    results['bbox_center'] = np.array([25, 17.5], np.float32)
    RandomFlip(prob=1.0)(results)
    assert results['flip'] and results['flip_direction'] == 'horizontal'
    for i in range(17):
        j = COCO_FLIP[i]
        np.testing.assert_allclose(results['keypoints'][i], [w - 1 - kp[j, 0], kp[j, 1]])
        assert results['keypoints_visible'][i] == vis[j]
    np.testing.assert_allclose(results['bbox'], [w - 1 - 40, 5, w - 1 - 10, 30])
    np.testing.assert_allclose(results['bbox_center'], [w - 1 - 25, 17.5])
    # the pixels are flipped lazily, exactly like cv2.flip, when someone asks for them
    assert results['flip_pending'] and np.array_equal(results['img'], img)
    np.testing.assert_array_equal(get_image(results), cv2.flip(img, 1))
    assert not results['flip_pending']


def test_flip_prob_zero_leaves_sample_alone():
    kp = np.array([[1, 2], [3, 4]], np.float32)
    results = sample_with_image(np.zeros((5, 5, 3), np.uint8), kp)
    RandomFlip(prob=0.0)(results)
    assert results['flip'] is False and not results.get('flip_pending')
    np.testing.assert_array_equal(results['keypoints'], kp)


def test_random_bbox_transform_ranges_and_seeding():
    t = RandomBBoxTransform(shift_factor=0.16, shift_prob=1.0, scale_factor=(0.5, 1.5),
                            scale_prob=1.0, rotate_factor=30.0, rotate_prob=1.0)
    base = dict(bbox_center=np.array([100, 100], np.float32),
                bbox_scale=np.array([50, 80], np.float32))
    np.random.seed(3)
    draws = [t(dict(base)) for _ in range(300)]
    ratio = np.array([d['bbox_scale'] / base['bbox_scale'] for d in draws])
    shift = np.array([(d['bbox_center'] - 100) / base['bbox_scale'] for d in draws])
    rot = np.array([d['bbox_rotation'] for d in draws])
    assert np.allclose(ratio[:, 0], ratio[:, 1]) and 0.5 <= ratio.min() and ratio.max() <= 1.5
    assert np.abs(shift).max() <= 0.16 + 1e-6 and np.abs(shift).max() > 0.1
    assert np.abs(rot).max() <= 60 + 1e-6 and 20 < rot.std() < 40
    np.random.seed(3)
    again = t(dict(base))
    np.testing.assert_array_equal(again['bbox_center'], draws[0]['bbox_center'])
    assert again['bbox_rotation'] == draws[0]['bbox_rotation']
    off = RandomBBoxTransform(shift_prob=0, scale_prob=0, rotate_prob=0)(dict(base))
    np.testing.assert_array_equal(off['bbox_center'], base['bbox_center'])
    np.testing.assert_array_equal(off['bbox_scale'], base['bbox_scale'])
    assert off['bbox_rotation'] == 0


# --------------------------------------------------------------------------- affine
@pytest.mark.parametrize('rot', [0.0, 30.0, -75.0, 160.0])
def test_warp_matrix_matches_three_point_construction(rot):
    for center, scale, out in [((120.5, 80.25), (64, 64), (256, 256)),
                               ((10, 300), (90, 120), (192, 256))]:
        scale = ref.fix_aspect(scale, out[0] / out[1])
        np.testing.assert_allclose(get_warp_matrix(center, scale, rot, out),
                                   ref.warp_matrix_three_points(center, scale, rot, out),
                                   atol=2e-3)


def test_fix_aspect_ratio_grows_the_short_side():
    np.testing.assert_allclose(fix_aspect_ratio(np.array([100, 50]), 0.75), [100, 100 / 0.75])
    np.testing.assert_allclose(fix_aspect_ratio(np.array([30, 80]), 0.75), [60, 80])
    # TopdownAffine writes the fixed scale back (mmpose does too)
    results = sample_with_image(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 2)))
    results.update(bbox_center=np.array([5, 5], np.float32),
                   bbox_scale=np.array([40, 10], np.float32))
    np.testing.assert_allclose(TopdownAffine((192, 256))(results)['bbox_scale'],
                               [40, 40 * 256 / 192], rtol=1e-6)


def test_degenerate_box_is_a_skippable_sample_error():
    results = sample_with_image(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 2)))
    results.update(bbox_center=np.array([5, 5], np.float32),
                   bbox_scale=np.array([0, 0], np.float32))
    with pytest.raises(ValueError, match='degenerate box'):
        TopdownAffine(INPUT)(results)


def test_udp_warp_matrix_maps_box_corners_to_input_corners():
    m = get_warp_matrix((50, 40), (20, 30), 0.0, (64, 96), use_udp=True)
    corners = np.array([[40, 25, 1], [60, 55, 1]], np.float64)
    np.testing.assert_allclose(corners @ m.T, [[0, 0], [63, 95]], atol=1e-9)


@needs_fixtures
@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('reduce', ['never', 'auto'])
def test_fused_flip_affine_equals_flip_then_warp(flip, reduce):
    rng = np.random.default_rng(1)
    for sample in ref.onehand10k_samples()[:2]:
        results = LoadImage(reduce=reduce)(dict(sample))
        GetBBoxCenterScale()(results)
        center = results['bbox_center'] + rng.uniform(-10, 10, 2).astype(np.float32)
        scale = results['bbox_scale'] * np.float32(rng.uniform(0.8, 1.2))
        rot = float(rng.uniform(-60, 60))
        full = cv2.cvtColor(cv2.imread(sample['img_path']), cv2.COLOR_BGR2RGB)
        expected_img, expected_kp = ref.flip_then_warp(
            full, sample['keypoints'], sample['flip_indices'], center, scale, rot, INPUT, flip)
        ref_center = center.copy()
        if flip:
            ref_center[0] = full.shape[1] - 1 - center[0]
        out = crop(results, center, scale, rot, flip)
        np.testing.assert_allclose(out['transformed_keypoints'], expected_kp, atol=1e-3)
        diff = np.abs(out['img'].astype(int) - expected_img.astype(int))
        # same sampling positions up to cv2's 1/32 px fixed-point rounding
        assert diff.max() <= 2 and diff.mean() < 0.01, (diff.mean(), diff.max())


@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('rot', [0.0, 37.0, -120.0])
def test_keypoints_land_where_image_content_moved(flip, rot):
    dots = np.array([[60.3, 50.7], [95.6, 70.2], [40.1, 90.9]], np.float32)
    img = ref.blob_image((140, 160), dots, sigma=2.5)
    results = sample_with_image(img, dots, flip_indices=[0, 2, 1])
    out = crop(results, center=(70, 70), scale=(90, 90), rot=rot, flip=flip)
    for k, (x, y) in enumerate(out['transformed_keypoints']):
        centroid = ref.blob_centroid(out['img'], (x, y), radius=20)
        np.testing.assert_allclose(centroid, [x, y], atol=0.1)


@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('use_udp', [False, True])
def test_input_to_image_maps_back_to_original_keypoints(flip, use_udp):
    rng = np.random.default_rng(2)
    kp = rng.uniform(0, 300, (17, 2)).astype(np.float32)
    results = sample_with_image(np.zeros((240, 320, 3), np.uint8), kp, COCO_FLIP)
    results['bbox_center'] = np.array([150, 120], np.float32)
    results['bbox_scale'] = np.array([140, 90], np.float32)
    if flip:
        RandomFlip(prob=1.0)(results)
    RandomBBoxTransform(shift_prob=1, scale_prob=1, rotate_prob=1)(results)
    TopdownAffine(INPUT, use_udp=use_udp)(results)
    m = results['input_to_image']
    assert m.shape == (2, 3) and m.dtype == np.float32
    back = results['transformed_keypoints'] @ m[:, :2].T.astype(np.float64) + m[:, 2]
    expected = kp[COCO_FLIP] if flip else kp  # flipped samples keep the swapped order
    np.testing.assert_allclose(back, expected, atol=1e-3)
    meta = PackPoseInputs()(results)['data_samples']['meta']
    np.testing.assert_allclose(meta['keypoints'], expected, atol=1e-3)


def test_lazy_reduced_decode_keeps_geometry(tmp_path):
    """A small box in a big JPEG is decoded at 1/4 size; content still lands on keypoints."""
    dots = np.array([[1003.4, 802.8], [1040.2, 830.6], [980.7, 851.1]], np.float32)
    img = ref.blob_image((1200, 1600), dots, sigma=6.0)
    path = str(tmp_path / 'big.jpg')
    cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 100])
    results = LoadImage(reduce='auto')(dict(img_path=path, keypoints=dots,
                                            flip_indices=[0, 2, 1]))
    assert 'img' not in results and results['img_shape'] == (1200, 1600)
    eager = LoadImage()(dict(img_path=path, keypoints=dots, flip_indices=[0, 2, 1]))
    outs = []
    for res in (results, eager):
        res['bbox_center'] = np.array([1010, 830], np.float32)
        res['bbox_scale'] = np.array([256 * 4.4, 256 * 4.4], np.float32)
        RandomFlip(prob=1.0)(res)
        res['bbox_rotation'] = 25.0
        outs.append(TopdownAffine(INPUT)(res))
    assert max_reduction(get_warp_matrix((0, 0), (256 * 4.4,) * 2, 25.0, INPUT)) == 4
    lazy, full = outs
    np.testing.assert_array_equal(lazy['transformed_keypoints'], full['transformed_keypoints'])
    np.testing.assert_array_equal(lazy['input_to_image'], full['input_to_image'])
    for x, y in lazy['transformed_keypoints']:
        np.testing.assert_allclose(ref.blob_centroid(lazy['img'], (x, y), 6), [x, y], atol=0.1)
    assert np.abs(lazy['img'].astype(int) - full['img'].astype(int)).mean() < 1.0


# --------------------------------------------------------------------------- photometric
def test_photometric_changes_pixels_only():
    rng = np.random.default_rng(0)
    img = rng.integers(40, 200, (64, 64, 3), dtype=np.uint8)
    kp = rng.uniform(0, 64, (21, 2)).astype(np.float32)
    results = dict(img=img.copy(), transformed_keypoints=kp.copy(), keypoints=kp.copy())
    aug = PhotometricAug([dict(type='RandomBrightnessContrast', brightness_limit=(0.3, 0.3),
                               contrast_limit=0, p=1.0)])
    out = aug(results)
    assert out['img'].shape == img.shape and out['img'].dtype == np.uint8
    assert out['img'].mean() > img.mean() + 20
    np.testing.assert_array_equal(out['transformed_keypoints'], kp)
    np.testing.assert_array_equal(out['keypoints'], kp)


def test_photometric_default_is_seeded_by_numpy():
    img = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    runs = []
    for _ in range(2):
        np.random.seed(7)
        aug = PhotometricAug()
        runs.append([aug(dict(img=img.copy()))['img'] for _ in range(8)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, img) for a in runs[0])


@pytest.mark.parametrize('cfg', [dict(type='HorizontalFlip', p=1.0), dict(type='Affine'),
                                 dict(type='OneOf', transforms=[dict(type='Rotate')])])
def test_photometric_rejects_spatial_transforms(cfg):
    with pytest.raises(ValueError, match='spatial'):
        PhotometricAug([cfg])


def test_photometric_unknown_name_suggests():
    with pytest.raises(ValueError, match='RandomBrightnessContrast'):
        PhotometricAug([dict(type='RandomBrightnesContrast')])


def test_photometric_named_recipe_is_seeded_and_keeps_geometry():
    """The mmpose-equivalent recipe by name: ColorJitter inside (whose own ``transforms`` are
    functions, not transforms) must not break the per-process reseeding."""
    img = np.random.default_rng(2).integers(30, 220, (48, 48, 3), dtype=np.uint8)
    runs = []
    for _ in range(2):
        np.random.seed(3)
        aug = PhotometricAug('photometric_distortion')
        runs.append([aug(dict(img=img.copy()))['img'] for _ in range(12)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    changed = [a for a in runs[0] if not np.array_equal(a, img)]
    assert len(changed) >= 6 and all(a.shape == img.shape for a in changed)
    assert aug.transforms == [dict(c) for c in PHOTOMETRIC_DISTORTION]


def test_photometric_unknown_recipe_lists_the_names():
    with pytest.raises(ValueError, match='photometric_distortion'):
        PhotometricAug('mmpose_style')


# --------------------------------------------------------------------------- targets, packing
def test_generate_target_matches_reference():
    rng = np.random.default_rng(4)
    kp = rng.uniform(-40, 300, (21, 2)).astype(np.float32)
    kp[3] = [-30, 100]  # 3-sigma box wholly left of the heatmap: weight 0
    kp[4] = [-20, 100]  # partly inside: kept
    vis = np.ones(21, np.float32)
    vis[5] = 0
    out = GenerateTarget(CODEC)(dict(transformed_keypoints=kp, keypoints_visible=vis,
                                     input_size=INPUT))
    heatmaps, weights = ref.gaussian_heatmaps(kp / 4, vis, (64, 64), 2.0)
    assert out['heatmaps'].shape == (21, 64, 64) and out['heatmaps'].dtype == np.float32
    assert out['keypoint_weights'].shape == (21,) and out['keypoint_weights'].dtype == np.float32
    np.testing.assert_allclose(out['heatmaps'], heatmaps, atol=1e-6)
    np.testing.assert_array_equal(out['keypoint_weights'], weights)
    assert weights[3] == 0 and weights[4] == 1 and weights[5] == 0


def test_generate_target_input_size_mismatch_is_a_config_error():
    with pytest.raises(RuntimeError, match='input_size'):
        GenerateTarget(CODEC)(dict(transformed_keypoints=np.zeros((21, 2), np.float32),
                                   input_size=(192, 256)))


def test_pack_pose_inputs_shapes_and_dtypes():
    img = np.random.default_rng(0).integers(0, 255, (256, 192, 3), dtype=np.uint8)
    results = sample_with_image(img, np.zeros((21, 2)), bbox=(1, 2, 3, 4))
    results.update(heatmaps=np.zeros((21, 64, 48), np.float32),
                   keypoint_weights=np.ones(21, np.float32),
                   input_to_image=np.eye(2, 3, dtype=np.float32), input_size=(192, 256),
                   head_size=12.5, unrelated='x')
    packed = PackPoseInputs()(results)
    inputs = packed['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 256, 192)
    assert inputs.is_contiguous()
    assert torch.equal(inputs.permute(1, 2, 0), torch.from_numpy(img))
    samples = packed['data_samples']
    assert samples['heatmaps'].shape == (21, 64, 48) and samples['heatmaps'].dtype == torch.float32
    assert samples['keypoint_weights'].shape == (21,)
    meta = samples['meta']
    assert {'img_path', 'id', 'img_id', 'bbox', 'bbox_score', 'keypoints', 'keypoints_visible',
            'input_to_image', 'flip_indices', 'input_size', 'head_size'} == set(meta)
    # float and single-channel images keep their dtype / get a channel axis
    for arr in (img.astype(np.float32), img[..., 0]):
        results['img'] = arr
        t = PackPoseInputs()(dict(results))['inputs']
        assert t.dtype == torch.from_numpy(arr).dtype and t.is_contiguous()
        assert torch.equal(t, torch.from_numpy(arr.reshape(256, 192, -1)).permute(2, 0, 1))
    # test mode: no targets
    del results['heatmaps'], results['keypoint_weights']
    assert set(PackPoseInputs()(results)['data_samples']) == {'meta'}


# --------------------------------------------------------------------------- full pipeline
def build_pipeline(reduce: str, test_mode: bool = False) -> Compose:
    cfg = [dict(type='LoadImage', reduce=reduce), dict(type='GetBBoxCenterScale')]
    if not test_mode:
        cfg += [dict(type='RandomFlip'), dict(type='RandomBBoxTransform')]
    cfg.append(dict(type='TopdownAffine', input_size=INPUT))
    if not test_mode:
        cfg += [dict(type='PhotometricAug'), dict(type='GenerateTarget', encoder=CODEC)]
    cfg.append(dict(type='PackPoseInputs'))
    with DefaultScope.overwrite_default_scope('poseforge'):
        return Compose(cfg)


@needs_fixtures
@pytest.mark.parametrize('reduce', ['never', 'auto'])
def test_full_pipeline_on_onehand10k(reduce):
    np.random.seed(0)
    pipeline = build_pipeline(reduce)
    samples = ref.onehand10k_samples()
    outs = [pipeline(dict(s)) for s in samples for _ in range(3)]
    for out in outs:
        assert out['inputs'].shape == (3, 256, 256) and out['inputs'].dtype == torch.uint8
        assert out['data_samples']['heatmaps'].shape == (21, 64, 64)
        assert out['data_samples']['keypoint_weights'].shape == (21,)
    batch = pose_collate(outs)
    assert batch['inputs'].shape == (len(outs), 3, 256, 256)
    assert batch['data_samples']['heatmaps'].shape == (len(outs), 21, 64, 64)
    assert batch['data_samples']['keypoint_weights'][0, 0] == 0  # the unlabelled wrist
    np.random.seed(0)  # a seeded run repeats exactly (mmengine seeds np.random)
    pipeline = build_pipeline(reduce)
    again = [pipeline(dict(s)) for s in samples for _ in range(3)]
    for a, b in zip(outs, again):
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples']['heatmaps'], b['data_samples']['heatmaps'])
    test_out = build_pipeline(reduce, test_mode=True)(dict(samples[0]))
    assert set(test_out['data_samples']) == {'meta'}
    meta = test_out['data_samples']['meta']
    m = meta['input_to_image']
    # the box centre is the input centre
    centre = m[:, :2] @ np.array([128.0, 128.0]) + m[:, 2]
    np.testing.assert_allclose(centre, (meta['bbox'][:2] + meta['bbox'][2:]) / 2, atol=1e-3)


def test_transforms_registered_by_name():
    for name in ('LoadImage', 'GetBBoxCenterScale', 'RandomFlip', 'RandomBBoxTransform',
                 'TopdownAffine', 'PhotometricAug', 'GenerateTarget', 'PackPoseInputs'):
        assert TRANSFORMS.get(name) is not None, name
    assert repr(TopdownAffine(INPUT)) == 'TopdownAffine(input_size=(256, 256), use_udp=False, ' \
                                        'max_reduce=8)'


def test_image_to_tensor_is_right_on_every_call_of_a_type():
    """``image_to_tensor`` checks once per (dtype, channels) that OpenCV fills its planes in
    place and then trusts it: later calls of the same type must still be exact copies."""
    from poseforge.datasets.transforms.formatting import image_to_tensor
    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.float32, np.int64):
        for _ in range(3):
            img = (rng.random((7, 5, 3)) * 200).astype(dtype)
            t = image_to_tensor(img)
            assert t.is_contiguous() and torch.equal(t, torch.from_numpy(img).permute(2, 0, 1))
    strided = rng.integers(0, 255, (6, 8, 4), dtype=np.uint8)[:, ::2, :3]  # a non-contiguous view
    assert torch.equal(image_to_tensor(strided), torch.from_numpy(np.ascontiguousarray(
        strided)).permute(2, 0, 1))


def test_image_to_tensor_splits_an_rgb_view_of_rgbx_straight_from_its_parent():
    """TopdownAffine hands on ``rgbx[..., :3]``; packing splits the RGBX parent (X into a
    scratch plane) and must give exactly the planes of the RGB view, call after call (the
    scratch plane is reused and never read)."""
    from poseforge.datasets.transforms.formatting import image_to_tensor, padded_parent
    rng = np.random.default_rng(2)
    for shape in ((9, 7), (9, 7), (4, 6)):
        rgbx = rng.integers(0, 255, (*shape, 4), dtype=np.uint8)
        view = rgbx[..., :3]
        assert padded_parent(view) is rgbx
        expected = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1)
        t = image_to_tensor(view)
        assert t.is_contiguous() and t.shape == (3, *shape) and torch.equal(t, expected)
    # views that are not the leading channels of a padded parent take the plain path
    for other in (rgbx[..., 1:], rgbx[:, :3, :3], rgbx[..., :2]):
        assert padded_parent(other) is None
        assert torch.equal(image_to_tensor(other), torch.from_numpy(
            np.ascontiguousarray(other)).permute(2, 0, 1))
    # wider items (compared by address, not by a one-byte overlap) and empty crops
    wide = rng.random((5, 6, 4)).astype(np.float32)
    assert padded_parent(wide[..., :3]) is wide and padded_parent(wide[..., 1:]) is None
    assert torch.equal(image_to_tensor(wide[..., 1:]), torch.from_numpy(
        np.ascontiguousarray(wide[..., 1:])).permute(2, 0, 1))
    empty = np.zeros((0, 4, 4), np.uint8)
    assert padded_parent(empty[..., :3]) is empty
    assert image_to_tensor(empty[..., :3]).shape == (3, 0, 4)


def test_flip_keypoints_reorders_and_mirrors_every_instance():
    """One instance ``(K, 2)`` or several ``(N, K, 2)``: keypoint ``i`` takes the mirrored
    coordinates of ``flip_indices[i]`` and its visibility, exactly (float32 arithmetic)."""
    from poseforge.datasets.transforms.bbox import flip_keypoints
    rng = np.random.default_rng(6)
    order = np.array(COCO_FLIP)
    for shape in ((17, 2), (3, 17, 2)):
        kp = rng.uniform(-5, 300, shape).astype(np.float32)
        vis = rng.integers(0, 2, shape[:-1]).astype(np.float32)
        for direction, axis, size in (('horizontal', 0, 321), ('vertical', 1, 123)):
            out, out_vis = flip_keypoints(kp, vis, (321, 123), COCO_FLIP, direction)
            expected = kp[..., order, :].copy()
            expected[..., axis] = np.float32(size - 1) - expected[..., axis]
            assert out.dtype == np.float32 and out.tobytes() == expected.tobytes()
            assert np.array_equal(out_vis, vis[..., order])
        assert not np.shares_memory(out, kp) and not np.shares_memory(out_vis, vis)


def test_topdown_affine_crop_is_the_rgb_view_of_its_rgbx_warp():
    """The crop of an RGB uint8 image is an RGB uint8 (H, W, 3) array, a view of the RGBX warp
    (no conversion pass), equal to warping the RGB image directly; it packs to the same tensor
    as its contiguous copy."""
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8), (5, 5), 2)
    results = sample_with_image(img, [[30.0, 40.0]], bbox=(20, 15, 100, 80))
    results = GetBBoxCenterScale()(results)
    results['bbox_rotation'] = 25.0
    out = TopdownAffine((48, 64))(results)
    crop = out['img']
    assert crop.shape == (64, 48, 3) and crop.dtype == np.uint8
    assert not crop.flags.c_contiguous and crop.base.shape == (64, 48, 4)
    matrix = get_warp_matrix(out['bbox_center'], out['bbox_scale'], 25.0, (48, 64))
    direct = cv2.warpAffine(img, matrix, (48, 64), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    assert np.abs(crop.astype(int) - direct.astype(int)).max() <= 1
    packed = PackPoseInputs()(out)['inputs']
    assert torch.equal(packed, torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1))


@pytest.mark.parametrize('recipe', ['photometric_distortion', None])
def test_photometric_runs_on_a_contiguous_copy_of_the_crop_view(recipe):
    """PhotometricAug converts TopdownAffine's RGB view of the RGBX warp once (its many passes
    would each take OpenCV's strided path on the view) and gives the same pixels as on a
    contiguous copy of the crop."""
    from poseforge.datasets.transforms.formatting import contiguous_image
    rng = np.random.default_rng(5)
    img = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    results = GetBBoxCenterScale()(sample_with_image(img, [[30.0, 40.0]], bbox=(20, 15, 100, 80)))
    crop = TopdownAffine((48, 64))(results)['img']
    assert not crop.flags.c_contiguous  # the view this is about
    converted = contiguous_image(crop)
    assert converted.flags.c_contiguous and np.array_equal(converted, crop)
    assert converted.base is not crop.base  # a copy: the RGBX warp itself is left untouched
    step = PhotometricAug(recipe)
    outs = []
    for image in (crop, np.ascontiguousarray(crop)):
        np.random.seed(11)
        outs.append(step(dict(img=image))['img'])
    assert outs[0].flags.c_contiguous and np.array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], crop)  # the recipe did change the pixels


@pytest.mark.parametrize('padding', [1.25, 1.1, 1.37])
def test_box_steps_keep_numpy_float32_arithmetic(padding):
    """GetBBoxCenterScale, RandomBBoxTransform and the box flip work on Python floats; their
    results must stay bitwise those of the float32 numpy arithmetic they replace (numpy 2
    computes float32 array x Python float in float32)."""
    from poseforge.datasets.transforms.bbox import flip_bbox_xyxy, flip_points
    rng = np.random.default_rng(4)
    step, box_transform = GetBBoxCenterScale(padding), RandomBBoxTransform(shift_prob=0.7)
    for seed in range(300):
        bbox = (rng.uniform(-40, 900, 4) * rng.choice([1.0, 1e-3, 7.3])).astype(np.float32)
        x1, y1, x2, y2 = bbox
        out = step(dict(bbox=bbox))
        centre = np.array([(x1 + x2) * 0.5, (y1 + y2) * 0.5], dtype=np.float32)
        scale = np.array([(x2 - x1) * padding, (y2 - y1) * padding], dtype=np.float32)
        assert np.array_equal(out['bbox_center'], centre)
        assert np.array_equal(out['bbox_scale'], scale)
        np.random.seed(seed)
        moved = box_transform(dict(bbox_center=centre.copy(), bbox_scale=scale.copy()))
        np.random.seed(seed)
        shift, factor, _ = box_transform.sample()
        assert np.array_equal(moved['bbox_center'], (centre + shift * scale).astype(np.float32))
        assert np.array_equal(moved['bbox_scale'], (scale * factor).astype(np.float32))
        size = (int(rng.integers(10, 3000)), int(rng.integers(10, 3000)))
        for direction in ('horizontal', 'vertical', 'diagonal'):
            corners = flip_points(bbox.reshape(2, 2), size, direction)
            expected = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
            assert np.array_equal(flip_bbox_xyxy(bbox, size, direction), expected)
    with_nan = np.array([np.nan, 1, 5, 6], np.float32)  # NaN propagates like numpy's min/max
    assert np.isnan(flip_bbox_xyxy(with_nan, (10, 10), 'horizontal')[[0, 2]]).all()


def test_random_bbox_transform_draws_the_legacy_stream():
    """``sample`` takes its six uniform draws in one call; they must be the values of the
    separate draws (random(3), uniform(-1, 1, 2), uniform(low, high), then normal()) that
    seeded runs and resumes were made with."""
    t = RandomBBoxTransform(shift_prob=1.0, scale_factor=(0.7, 1.3), rotate_prob=1.0,
                            rotate_factor=40.0)
    for seed in range(200):
        np.random.seed(seed)
        np.random.random(3)
        shift = np.random.uniform(-1.0, 1.0, 2) * t.shift_factor
        scale = float(np.random.uniform(0.7, 1.3))
        rotate = float(np.clip(np.random.normal() * 40.0, -80.0, 80.0))
        after = np.random.random()
        np.random.seed(seed)
        got = t.sample()
        assert np.array_equal(got[0], shift) and got[1] == scale and got[2] == rotate
        assert np.random.random() == after  # the same number of draws


def test_read_image_bytes_reads_whole_files_and_names_unreadable_ones(tmp_path):
    from poseforge.datasets.transforms.loading import read_image_bytes
    data = np.random.default_rng(5).integers(0, 255, 300_000, dtype=np.uint8).tobytes()
    path = tmp_path / 'big.jpg'
    path.write_bytes(data)
    assert read_image_bytes(str(path)).tobytes() == data
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        read_image_bytes(str(tmp_path / 'missing.jpg'))
    with pytest.raises(IsADirectoryError, match=str(tmp_path.name)):
        read_image_bytes(str(tmp_path))
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(OSError, match='empty'):
        read_image_bytes(str(tmp_path / 'empty.jpg'))
