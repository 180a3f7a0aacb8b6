"""Tree belief propagation with 2D spatial messages against brute-force enumeration."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poseforge.models.rmgmn.belief_propagation import (symmetric_edge_kernels,
                                                       tree_belief_propagation, tree_schedule)
from poseforge.models.spatial_graph import reverse_edge_index, spatial_convolution
from poseforge.skeletons import HAND21



def pairwise_table(kernel: np.ndarray, h: int, w: int) -> np.ndarray:
    """``psi[x_s, x_r] = K[x_r - x_s + c]`` over flattened grid cells (0 outside the kernel).

    Written from the definition, cell by cell, independently of any convolution.
    """
    kh, kw = kernel.shape
    cy, cx = kh // 2, kw // 2
    psi = np.zeros((h * w, h * w))
    for ys in range(h):
        for xs in range(w):
            for yr in range(h):
                for xr in range(w):
                    u, v = yr - ys + cy, xr - xs + cx
                    if 0 <= u < kh and 0 <= v < kw:
                        psi[ys * w + xs, yr * w + xr] = kernel[u, v]
    return psi


def brute_force_marginals(unary: np.ndarray, limbs, kernels: np.ndarray) -> np.ndarray:
    """Marginals of p(x) ∝ prod_n phi_n(x_n) prod_limbs psi_{a->b}(x_a, x_b), by building the
    whole joint table over all configurations and summing out the other nodes.

    unary (N, H, W), kernels (L, kh, kw) for the ``a -> b`` direction of each limb.
    """
    n, h, w = unary.shape
    s = h * w
    joint = np.ones((s,) * n)
    for node in range(n):
        shape = [1] * n
        shape[node] = s
        joint = joint * unary[node].reshape(shape)
    for (a, b), kernel in zip(limbs, kernels):
        shape = [1] * n
        shape[a] = shape[b] = s
        table = pairwise_table(kernel, h, w)
        table = table if a < b else table.T  # axes of `joint` go in node order
        joint = joint * table.reshape(shape)
    joint /= joint.sum()
    return np.stack([joint.sum(axis=tuple(i for i in range(n) if i != node)).reshape(h, w)
                     for node in range(n)])


@pytest.mark.parametrize('kernel_size', [3, 7])
def test_bp_equals_enumeration_on_a_four_node_tree(kernel_size):
    limbs = [(0, 1), (1, 2), (1, 3)]  # a star around node 1, rooted at 0
    rng = np.random.default_rng(kernel_size)
    batch, h, w = 2, 5, 5
    unary = rng.uniform(0.05, 1.0, (batch, 4, h, w))
    forward = rng.uniform(0.05, 1.0, (batch, 3, kernel_size, kernel_size))
    expected = np.stack([brute_force_marginals(unary[b], limbs, forward[b]) for b in range(batch)])

    schedule = tree_schedule(limbs, num_nodes=4, root=0)
    kernels = symmetric_edge_kernels(torch.from_numpy(forward))  # (B, 6, k, k) per sample
    for dtype in (torch.float64, torch.float32):
        marginals = tree_belief_propagation(torch.from_numpy(unary).to(dtype),
                                            kernels.to(dtype), schedule)
        assert marginals.dtype == dtype and marginals.shape == (batch, 4, h, w)
        np.testing.assert_allclose(marginals.double().numpy(), expected, atol=1e-5, rtol=0)
    # the two samples have different kernels: per-sample kernels really are per sample
    assert np.abs(expected[0] - expected[1]).max() > 1e-3


def test_bp_equals_enumeration_deeper_tree_other_root_shared_kernels():
    limbs = [(0, 1), (1, 2), (2, 3), (1, 4)]  # depth 3 from node 3
    rng = np.random.default_rng(7)
    h, w = 4, 4
    unary = rng.uniform(0.0, 1.0, (1, 5, h, w)) ** 3  # peaky, some cells near 0
    forward = rng.uniform(0.0, 1.0, (4, 5, 5))
    expected = brute_force_marginals(unary[0], limbs, forward)
    kernels = symmetric_edge_kernels(torch.from_numpy(forward))  # (6, 5, 5) shared
    for root in (0, 3):
        schedule = tree_schedule(limbs, root=root)
        marginals = tree_belief_propagation(torch.from_numpy(unary), kernels, schedule)
        np.testing.assert_allclose(marginals[0].numpy(), expected, atol=1e-5, rtol=0)


def test_messages_follow_the_kernel_offset_convention():
    """A delta belief at p_s sent through a kernel peaked at c + d arrives at p_s + d."""
    maps = torch.zeros(1, 1, 9, 9)
    maps[0, 0, 2, 3] = 1.0  # (y, x) = (2, 3)
    kernel = torch.zeros(1, 5, 5)
    kernel[0, 2 + 2, 2 - 1] = 1.0  # d = (dy, dx) = (+2, -1)
    out = spatial_convolution(maps, kernel)
    assert out[0, 0, 4, 2] == 1.0 and out.sum() == 1.0
    # per-sample kernels (batch folded into the groups) give the same
    out_b = spatial_convolution(maps.repeat(2, 1, 1, 1), kernel[None].repeat(2, 1, 1, 1))
    assert torch.equal(out_b[1], out[0])

    # two-node tree: a certain sender pins the receiver at p_s + d
    schedule = tree_schedule([(0, 1)])
    unary = torch.ones(1, 2, 9, 9)
    unary[0, 0] = maps[0, 0]
    marginals = tree_belief_propagation(unary, symmetric_edge_kernels(kernel), schedule)
    assert marginals[0, 1, 4, 2].item() == pytest.approx(1.0, abs=1e-6)


def test_hand_schedule_orders_messages_after_their_inputs():
    schedule = tree_schedule(HAND21.limbs)
    assert schedule.num_nodes == 21 and schedule.num_edges == 40
    assert len(schedule.levels) == 8  # 4 levels up (tips first), 4 down
    assert sorted(e for level in schedule.levels for e in level) == list(range(40))
    done: set[int] = set()
    for level in schedule.levels:
        for e in level:
            needed = set(torch.nonzero(schedule.sender_inputs[e]).flatten().tolist())
            assert needed <= done, f'edge {schedule.edges[e]} needs {needed - done}'
        done.update(level)
    # the wrist receives five messages, a finger tip one; the reverse of edge e is e +- 20
    assert schedule.incoming.sum(1)[0] == 5 and schedule.incoming.sum(1)[4] == 1
    reverse = reverse_edge_index(20)
    assert all(schedule.edges[reverse[e]] == schedule.edges[e][::-1] for e in range(40))


def test_schedule_rejects_non_trees():
    with pytest.raises(ValueError, match='got 3 limbs'):
        tree_schedule([(0, 1), (1, 2), (2, 0)], num_nodes=3)
    with pytest.raises(ValueError, match='not a tree'):
        tree_schedule([(0, 1), (0, 1), (2, 3)], num_nodes=4)
