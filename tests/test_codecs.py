"""MSRAHeatmap: encoding against a plain reference, exact round trip, numpy == torch decode."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poseforge.codecs import MSRAHeatmap
from poseforge.registry import KEYPOINT_CODECS
from tests import reference_datapath as ref

INPUT, HEATMAP = (256, 256), (64, 64)


def codec(**kwargs) -> MSRAHeatmap:
    return MSRAHeatmap(INPUT, HEATMAP, sigma=2.0, **kwargs)


def test_built_from_registry():
    built = KEYPOINT_CODECS.build(dict(type='MSRAHeatmap', input_size=INPUT,
                                       heatmap_size=HEATMAP, sigma=2.0))
    assert isinstance(built, MSRAHeatmap) and built.heatmap_size == HEATMAP


def test_encode_matches_reference_and_peaks_at_subpixel_location():
    rng = np.random.default_rng(0)
    kp = rng.uniform(-30, 290, (17, 2)).astype(np.float32)
    vis = (rng.random(17) > 0.2).astype(np.float32)
    out = codec().encode(kp, vis)
    heatmaps, weights = ref.gaussian_heatmaps(kp / 4, vis, HEATMAP, 2.0)
    np.testing.assert_allclose(out['heatmaps'], heatmaps, atol=1e-6)
    np.testing.assert_array_equal(out['keypoint_weights'], weights)
    # a keypoint exactly on a heatmap pixel has value 1 there
    one = codec().encode(np.array([[40.0, 80.0]]))['heatmaps'][0]
    assert one[20, 10] == pytest.approx(1.0) and one.argmax() == 20 * 64 + 10


def test_reach_rule_follows_mmpose():
    """Weight 0 when x - 3s >= W, or x + 3s + 1 < 0 (heatmap px; mmpose's unbiased encoder)."""
    hm_x = np.array([-6.5, -7.5, 63 + 6.0 - 0.01, 64 + 6.0, 30], np.float32)
    kp = np.stack([hm_x * 4, np.full(5, 120.0, np.float32)], axis=1)
    weights = codec().encode(kp)['keypoint_weights']
    np.testing.assert_array_equal(weights, [1, 0, 1, 0, 1])
    assert not codec().encode(kp)['heatmaps'][[1, 3]].any()


def test_encode_multi_instance_takes_max_and_keeps_weight_shape():
    kp = np.array([[[40, 40], [200, 200]], [[120, 120], [-400, 0]]], np.float32)
    out = codec().encode(kp)
    assert out['heatmaps'].shape == (2, 64, 64)
    assert out['keypoint_weights'].tolist() == [[1, 1], [1, 0]]
    single = [codec().encode(k)['heatmaps'] for k in kp]
    np.testing.assert_allclose(out['heatmaps'], np.maximum(*single))


@pytest.mark.parametrize('blur_kernel_size', [0, 11])
@pytest.mark.parametrize('low,high', [(4, 60), (-1, 2.5), (60.5, 64), (-1, 64)])
def test_round_trip_below_a_tenth_of_a_heatmap_pixel(blur_kernel_size, low, high):
    """Exact everywhere in [-1, W] x [-1, H] heatmap px: no border margin is needed.

    Near the border (where the Gaussian is clipped) the DARK stencil is moved one pixel inside
    and the blur is not used, see poseforge/codecs/msra_heatmap.py.
    """
    c = codec(blur_kernel_size=blur_kernel_size)
    rng = np.random.default_rng(int(1000 + low * 10 + high))
    hm_xy = rng.uniform(low, high, (400, 2))
    kp = (hm_xy * 4).astype(np.float32)
    decoded, scores = c.decode(c.encode(kp)['heatmaps'])
    err = np.abs(decoded / 4 - kp / 4).max()
    assert err < 0.1, err
    assert decoded.shape == (400, 2) and scores.shape == (400,)
    assert np.all(scores > 0.6)


def test_refinement_is_capped_and_skipped_for_empty_heatmaps():
    c = codec()
    far = np.array([[-40.0, 100.0]], np.float32)  # -10 heatmap px: out of the refinement's reach
    c_wide = MSRAHeatmap(INPUT, HEATMAP, sigma=4.0)
    decoded, _ = c_wide.decode(c_wide.encode(far)['heatmaps'])
    assert -1 * 4 <= decoded[0, 0] < 0  # at most one heatmap px beyond the border
    keypoints, scores = c.decode(np.zeros((3, 64, 64), np.float32))
    np.testing.assert_array_equal(keypoints, -4 * np.ones((3, 2)))
    np.testing.assert_array_equal(scores, 0)


def noisy_heatmaps(batch: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = codec()
    maps = np.stack([c.encode(rng.uniform(-8, 264, (k, 2)))['heatmaps'] for _ in range(batch)])
    maps = maps * rng.uniform(0.3, 1.0, (batch, k, 1, 1)) + rng.normal(0, 0.02, maps.shape)
    return maps.astype(np.float32)


@pytest.mark.parametrize('kwargs', [dict(), dict(blur_kernel_size=0), dict(unbiased=False)])
def test_batch_decode_equals_decode(kwargs):
    c = codec(**kwargs)
    maps = noisy_heatmaps(6, 21, seed=1)
    keypoints, scores = c.decode(maps)
    bk, bs = c.batch_decode(torch.from_numpy(maps))
    assert bk.shape == (6, 21, 2) and bs.shape == (6, 21) and bk.dtype == torch.float32
    np.testing.assert_allclose(bk.numpy(), keypoints, atol=1e-3)
    np.testing.assert_allclose(bs.numpy(), scores, atol=1e-7)
    single = np.stack([c.decode(m)[0] for m in maps])
    np.testing.assert_allclose(keypoints, single, atol=1e-5)


def test_dark_with_blur_is_best_on_noisy_predictions():
    """The modulation is what makes DARK robust to noise (why mmpose blurs predictions)."""
    rng = np.random.default_rng(5)
    kp = rng.uniform(20, 236, (200, 2)).astype(np.float32)
    maps = codec().encode(kp)['heatmaps'] + rng.normal(0, 0.03, (200, 64, 64))
    errors = {name: np.abs(c.decode(maps)[0] - kp).max(axis=1).mean() / 4 for name, c in [
        ('dark', codec()), ('no_blur', codec(blur_kernel_size=0)),
        ('quarter', codec(unbiased=False))]}
    assert errors['dark'] < 0.1
    assert errors['dark'] < errors['no_blur'] / 2 and errors['dark'] < errors['quarter'] / 2


def test_invalid_arguments():
    with pytest.raises(ValueError, match='heatmap_size'):
        MSRAHeatmap(INPUT, (2, 64))
    with pytest.raises(ValueError, match='odd'):
        MSRAHeatmap(INPUT, HEATMAP, blur_kernel_size=10)
    with pytest.raises(ValueError, match='keypoints'):
        codec().encode(np.zeros(5))


def test_encode_is_the_exact_outer_product_of_1d_gaussians_and_drops_non_finite_keypoints():
    """The (K, H, W) maps are bitwise the float32 products gy[y] * gx[x] of the two 1-D
    Gaussians (however they are multiplied out), and a NaN or infinite keypoint gets weight 0
    and an all-zero map, like an unlabelled one."""
    rng = np.random.default_rng(3)
    kp = rng.uniform(-20, 276, (21, 2)).astype(np.float32)
    kp[2, 0], kp[5, 1], kp[7, 0] = np.nan, np.inf, -np.inf
    vis = np.ones(21, np.float32)
    vis[9] = 0.0
    out = codec().encode(kp, vis)
    assert out['heatmaps'].dtype == np.float32 and out['heatmaps'].flags.c_contiguous
    centres = kp * np.float32(0.25)
    keep = np.isfinite(centres).all(axis=1) & (vis >= 0.5)
    assert out['keypoint_weights'].tolist() == keep.astype(np.float32).tolist()
    grid = np.arange(64, dtype=np.float32)
    inv = np.float32(-0.5 / 4.0)
    for k in np.flatnonzero(keep):
        gx = np.exp(np.square(grid - centres[k, 0]) * inv)
        gy = np.exp(np.square(grid - centres[k, 1]) * inv)
        np.testing.assert_array_equal(out['heatmaps'][k], np.outer(gy, gx))
    # dropped channels are +0.0 bit for bit (no -0.0, no NaN from a non-finite centre)
    dropped = out['heatmaps'][~keep]
    assert dropped.size and not dropped.view(np.uint32).any()


@pytest.mark.parametrize('heatmap_size', [(24, 32), (46, 46), (32, 24)])
def test_encode_non_square_heatmaps_read_their_own_length_of_the_shared_grid(heatmap_size):
    """Both 1-D Gaussians come from one exp over a grid of the longer side; each axis must
    still be exactly its own Gaussian (COCO's 24x32 maps, CPM's 46x46), for one instance and
    for several (combined by maximum)."""
    W, H = heatmap_size
    c = MSRAHeatmap((W * 8, H * 8), heatmap_size, sigma=2.0)
    rng = np.random.default_rng(7)
    kp = rng.uniform(-30, max(W, H) * 8 + 30, (2, 17, 2)).astype(np.float32)
    inv = np.float32(-0.5 / 4.0)
    expected = []
    for inst in kp:
        centres = inst * np.float32(0.125)
        maps = np.zeros((17, H, W), np.float32)
        for k, (x, y) in enumerate(centres):
            if x - 6 < W and y - 6 < H and x + 7 >= 0 and y + 7 >= 0:
                gx = np.exp(np.square(np.arange(W, dtype=np.float32) - x) * inv)
                gy = np.exp(np.square(np.arange(H, dtype=np.float32) - y) * inv)
                maps[k] = np.outer(gy, gx)
        expected.append(maps)
        out = c.encode(inst)
        assert out['heatmaps'].shape == (17, H, W) and out['heatmaps'].flags.c_contiguous
        np.testing.assert_array_equal(out['heatmaps'], maps)
        assert out['keypoint_weights'].tolist() == maps.any(axis=(1, 2)).astype(float).tolist()
    np.testing.assert_array_equal(c.encode(kp)['heatmaps'], np.maximum(*expected))
