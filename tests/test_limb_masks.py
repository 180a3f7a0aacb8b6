"""NSRM limb masks (poseforge.models.nsrm.limb_masks): closed-form geometry, special cases, a
plain per-limb reference, groupings."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from poseforge.models.nsrm.limb_masks import (canonical_grouping, group_limb_masks,
                                              grouping_limb_groups,
                                              hand21_finger_and_palm_groups,
                                              limb_deterministic_masks, limb_probability_masks,
                                              limb_targets, num_limb_maps)
from poseforge.skeletons import HAND21

# HowieMa/NSRMhand dataset/hand_lpm.py: `parts` and `groups6`, written out.
NSRM_PARTS = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10],
              [10, 11], [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18],
              [18, 19], [19, 20]]
NSRM_GROUPS6 = [[1, 2, 3], [5, 6, 7], [9, 10, 11], [13, 14, 15], [17, 18, 19], [0, 4, 8, 12, 16]]


def one_limb(a, b, visible=(1, 1)):
    """A single limb between two joints: keypoints (1, 2, 2), visibility (1, 2)."""
    return (torch.tensor([[a, b]], dtype=torch.float32), torch.tensor([visible]),
            [(0, 1)])


def cell_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))


# --------------------------------------------------------------------------- plain reference
def reference_distance(a, b, width: int, height: int) -> np.ndarray:
    """Point-to-segment distance, case by case (float64): before the start the distance to the
    start, beyond the end to the end, else |cross| / length; a point segment: to the point."""
    x, y = cell_grid(width, height)
    (ax, ay), (bx, by) = a, b
    vx, vy = bx - ax, by - ay
    length = math.hypot(vx, vy)
    to_a = np.hypot(x - ax, y - ay)
    if length == 0:
        return to_a
    to_b = np.hypot(x - bx, y - by)
    along = ((x - ax) * vx + (y - ay) * vy) / length
    across = np.abs((x - ax) * vy - (y - ay) * vx) / length
    return np.where(along < 0, to_a, np.where(along > length, to_b, across))


def reference_masks(keypoints: np.ndarray, visible: np.ndarray, limbs, width: int, height: int,
                    kind: str, sigma: float = 1.0, ldm_width: float = 1.0) -> np.ndarray:
    """One limb at a time: (B, L, H, W)."""
    out = np.zeros((len(keypoints), len(limbs), height, width))
    x, y = cell_grid(width, height)
    for n, (points, vis) in enumerate(zip(keypoints, visible)):
        for l, (i, j) in enumerate(limbs):
            if not (vis[i] and vis[j]):
                continue
            a, b = points[i], points[j]
            if kind == 'lpm':
                d = reference_distance(a, b, width, height)
                out[n, l] = np.exp(-d ** 2 / (2 * sigma ** 2))
                continue
            vx, vy = b - a
            length = math.hypot(vx, vy)
            if length == 0:
                out[n, l] = np.hypot(x - a[0], y - a[1]) <= ldm_width
                continue
            along = ((x - a[0]) * vx + (y - a[1]) * vy) / length
            across = np.abs((x - a[0]) * vy - (y - a[1]) * vx) / length
            out[n, l] = (along >= 0) & (along <= length) & (across <= ldm_width)
    return out


def random_hands(batch: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Joints scattered over (and a little beyond) the grid, a few of them invisible."""
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(-3, size + 3, (batch, 21, 2)).astype(np.float32)
    visible = (rng.uniform(size=(batch, 21)) > 0.15).astype(np.float32)
    return torch.from_numpy(keypoints), torch.from_numpy(visible)


# --------------------------------------------------------------------------- layout
def test_hand21_limbs_and_groups_are_the_originals():
    assert [list(limb) for limb in HAND21.limbs] == NSRM_PARTS
    assert [list(g) for g in hand21_finger_and_palm_groups()] == NSRM_GROUPS6
    assert grouping_limb_groups('G1') == (tuple(range(20)),)
    assert [list(g) for g in grouping_limb_groups('G1&6')] == [list(range(20))] + NSRM_GROUPS6
    assert [num_limb_maps(g) for g in ('G1', 'G6', 'G1&6', 'g1and6')] == [1, 6, 7, 7]
    with pytest.raises(ValueError, match='G2'):
        canonical_grouping('G2')


# --------------------------------------------------------------------------- LPM geometry
def test_lpm_is_the_gaussian_of_the_true_segment_distance():
    sigma = 1.5
    keypoints, visible, limbs = one_limb((2.0, 5.0), (8.0, 5.0))
    lpm = limb_probability_masks(keypoints, visible, limbs, (12, 10), sigma)[0, 0]
    assert lpm.shape == (10, 12) and lpm.dtype == torch.float32

    def expected(d2):
        return math.exp(-d2 / (2 * sigma ** 2))

    assert lpm[5, 2:9].tolist() == pytest.approx([1.0] * 7)  # on the segment
    assert lpm[7, 5].item() == pytest.approx(expected(4.0))  # 2 cells above its middle
    assert lpm[4, 0].item() == pytest.approx(expected(2 ** 2 + 1 ** 2))  # before the start
    # beyond the distal joint: to the joint only (sqrt 8). The original adds the distance to
    # the line's foot as well (8 + 4): a value 2.4x smaller here.
    assert lpm[7, 10].item() == pytest.approx(expected(8.0))
    assert lpm[7, 10].item() > 2 * expected(12.0)
    assert lpm[5, 11].item() == pytest.approx(expected(9.0))  # on the line, 3 past the end


def test_lpm_matches_the_per_limb_reference_on_random_hands():
    keypoints, visible = random_hands(3, 20, seed=0)
    got = limb_probability_masks(keypoints, visible, HAND21.limbs, (20, 16), sigma=1.3)
    want = reference_masks(keypoints.double().numpy(), visible.numpy() > 0.5, HAND21.limbs,
                           20, 16, 'lpm', sigma=1.3)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-6)


# --------------------------------------------------------------------------- LDM geometry
def test_ldm_is_the_rectangle_within_width_of_the_segment():
    keypoints, visible, limbs = one_limb((2.0, 5.0), (8.0, 5.0))
    ldm = limb_deterministic_masks(keypoints, visible, limbs, (12, 10), width=1.0)[0, 0]
    expected = torch.zeros(10, 12)
    expected[4:7, 2:9] = 1  # |y - 5| <= 1 and 2 <= x <= 8: no caps beyond the joints
    assert torch.equal(ldm, expected)
    wider = limb_deterministic_masks(keypoints, visible, limbs, (12, 10), width=2.0)[0, 0]
    assert wider.sum().item() == 5 * 7


def test_ldm_matches_the_per_limb_reference_on_random_hands():
    keypoints, visible = random_hands(3, 20, seed=1)
    got = limb_deterministic_masks(keypoints, visible, HAND21.limbs, (20, 16), width=1.0)
    want = reference_masks(keypoints.double().numpy(), visible.numpy() > 0.5, HAND21.limbs,
                           20, 16, 'ldm')
    # float32 vs float64 may only disagree on cells within rounding of the boundary
    assert (got.numpy() != want).mean() < 1e-3
    assert set(np.unique(got.numpy())) <= {0.0, 1.0}


# --------------------------------------------------------------------------- special cases
def test_degenerate_limb_gives_a_point_gaussian_and_a_disc():
    centre = (4.3, 6.2)
    keypoints, visible, limbs = one_limb(centre, centre)
    x, y = cell_grid(10, 12)
    d2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
    lpm = limb_probability_masks(keypoints, visible, limbs, (10, 12), sigma=1.0)[0, 0]
    np.testing.assert_allclose(lpm.numpy(), np.exp(-d2 / 2), atol=1e-6)
    ldm = limb_deterministic_masks(keypoints, visible, limbs, (10, 12), width=1.5)[0, 0]
    np.testing.assert_array_equal(ldm.numpy(), (d2 <= 1.5 ** 2).astype(np.float32))
    assert 0 < ldm.sum().item() < 10  # the original's LDM fills all 120 cells here
    assert torch.isfinite(lpm).all()


def test_joints_outside_the_crop_keep_the_part_of_the_limb_on_the_grid():
    keypoints, visible, limbs = one_limb((-5.0, 3.0), (5.0, 3.0))
    lpm = limb_probability_masks(keypoints, visible, limbs, (10, 8), sigma=1.0)[0, 0]
    assert lpm[3, :6].tolist() == pytest.approx([1.0] * 6)
    assert lpm[5, 0].item() == pytest.approx(math.exp(-2.0))  # 2 cells off the segment
    assert lpm[3, 7].item() == pytest.approx(math.exp(-2.0))  # 2 cells past the inner joint
    ldm = limb_deterministic_masks(keypoints, visible, limbs, (10, 8), width=1.0)[0, 0]
    expected = torch.zeros(8, 10)
    expected[2:5, :6] = 1
    assert torch.equal(ldm, expected)
    # a limb wholly outside contributes nothing
    far = limb_probability_masks(keypoints - 40, visible, limbs, (10, 8), sigma=1.0)
    assert far.max().item() < 1e-30


def test_limbs_with_an_invisible_or_non_finite_end_are_empty():
    keypoints, visible = random_hands(1, 16, seed=2)
    visible[:] = 1
    full = limb_probability_masks(keypoints, visible, HAND21.limbs, (16, 16))
    hidden = visible.clone()
    hidden[0, 2] = 0  # thumb2: limbs (1, 2) and (2, 3)
    broken = keypoints.clone()
    broken[0, 7] = float('nan')  # index3: limbs (6, 7) and (7, 8)
    for kind in (limb_probability_masks, limb_deterministic_masks):
        masks = kind(broken, hidden, HAND21.limbs, (16, 16))
        assert torch.isfinite(masks).all()
        empty = {1, 2, 6, 7}
        assert all(masks[0, l].abs().sum() == 0 for l in empty)
        kept = [l for l in range(20) if l not in empty]
        reference = kind(keypoints, visible, HAND21.limbs, (16, 16))
        assert torch.equal(masks[0, kept], reference[0, kept])
        assert reference[0, kept].sum() > 0
    assert torch.equal(full, limb_probability_masks(keypoints, None, HAND21.limbs, (16, 16)))


# --------------------------------------------------------------------------- groupings
@pytest.mark.parametrize('mask_type', ['lpm', 'ldm'])
def test_groupings_shapes_and_semantics(mask_type):
    keypoints, visible = random_hands(2, 24, seed=3)
    kind = limb_probability_masks if mask_type == 'lpm' else limb_deterministic_masks
    per_limb = kind(keypoints, visible, HAND21.limbs, (24, 20))
    g1 = limb_targets(keypoints, visible, (24, 20), mask_type, 'G1')
    g6 = limb_targets(keypoints, visible, (24, 20), mask_type, 'G6')
    g16 = limb_targets(keypoints, visible, (24, 20), mask_type, 'G1and6')
    assert g1.shape == (2, 1, 20, 24) and g6.shape == (2, 6, 20, 24)
    assert g16.shape == (2, 7, 20, 24)
    assert torch.equal(g16, torch.cat([g1, g6], dim=1))
    # G1: every cell is its strongest limb; for LDM that is the union of the limbs
    assert torch.equal(g1[:, 0], per_limb.max(dim=1).values)
    if mask_type == 'ldm':
        assert torch.equal(g1[:, 0].bool(), per_limb.bool().any(dim=1))
    for channel, group in enumerate(NSRM_GROUPS6):
        assert torch.equal(g6[:, channel], per_limb[:, group].max(dim=1).values)
    # the five fingers and the palm cover all 20 limbs: their maximum is G1
    assert torch.equal(g6.max(dim=1).values, g1[:, 0])


def test_group_of_no_limbs_is_empty_and_bad_indices_are_named():
    masks = torch.rand(1, 3, 4, 5)
    out = group_limb_masks(masks, [(), (0, 2)])
    assert torch.equal(out[0, 0], torch.zeros(4, 5))
    assert torch.equal(out[0, 1], torch.maximum(masks[0, 0], masks[0, 2]))
    with pytest.raises(IndexError, match='outside'):
        group_limb_masks(masks, [(3,)])
    with pytest.raises(ValueError, match='mask type'):
        limb_targets(torch.zeros(1, 21, 2), None, (4, 4), mask_type='xyz')
