"""Sum-product belief propagation on a tree of 2D spatial variables (AGMN / R-MGMN inference).

Each node ``n`` of the tree (a keypoint) is a discrete variable over the ``H x W`` heatmap
cells, with a non-negative unary potential ``phi_n(x)`` (the unary branch's map). Each directed
edge ``e = (s -> r)`` carries a 2D kernel ``K_e`` (``kh x kw``, odd sizes, centre
``c = (kh // 2, kw // 2)``) that defines the pairwise potential

    psi_e(x_s, x_r) = K_e[x_r - x_s + c]        (0 where the offset falls outside the kernel)

i.e. ``K_e`` is the distribution of the receiver's position *relative to* the sender's, drawn
around the kernel centre. A kernel peaked at ``c + d`` says "``r`` lies ``d`` cells from ``s``".
The message ``s -> r`` is then a true 2D *convolution* of the sender's belief with ``K_e``
(zero padding), computed with :func:`torch.nn.functional.conv2d` (a cross-correlation) on the
flipped kernel::

    m_e(x_r) = sum_{x_s} b_s(x_s) K_e[x_r - x_s + c],   b_s = phi_s * prod_{t != r} m_{t -> s}

AGMN (``deyingk/agmn``, ``models/graphical_model.py``) uses ``F.conv2d`` directly, so its kernel
targets are Gaussians at ``c - d`` ("note the minus sign"); flipping here keeps the intuitive
``c + d`` everywhere in poseforge (kernel targets, SIA-GCN kernels; the convolution is
:func:`~poseforge.models.spatial_graph.spatial_convolution`).

For exact sum-product marginals the two directions of an edge must describe one potential:
``psi_{r->s}(x_r, x_s) = psi_{s->r}(x_s, x_r)``, which holds when ``K_{r->s}`` is ``K_{s->r}``
rotated by 180 degrees (:func:`symmetric_edge_kernels`). AGMN, and :class:`RMGMN` after it,
regress the 40 directed kernels independently; BP then is the same message schedule on a
"directed" model, no longer an exact marginalisation, as in the original.

Schedule (computed once per tree by :func:`tree_schedule`): leaves -> root, then root ->
leaves, grouped in *levels* of edges that do not depend on each other, so that each level is a
single grouped convolution over ``batch x edges`` (per-sample kernels: the batch is folded into
the groups) instead of a Python loop over edges. Beliefs, messages and marginals are kept in
log space (the products become sums, computed for all edges of a level at once with fixed
0-1 incidence matrices); every message and marginal is normalised to sum 1 over the grid.
Probabilities are floored at :data:`PROB_FLOOR` before the log (AGMN's ``+1e-32``), so a
message that is exactly 0 somewhere (a kernel smaller than the grid) cannot produce NaNs.

Directed edge order (the kernel channel order): for ``limbs = [(a_0, b_0), ..., (a_{L-1},
b_{L-1})]``, edge ``e < L`` is ``a_e -> b_e`` and edge ``L + e`` is ``b_e -> a_e``. For
``hand21`` (limbs listed parent -> child from the wrist) the first 20 edges point from the
wrist towards the finger tips, the last 20 back towards the wrist.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from poseforge.models.spatial_graph import directed_edges, spatial_convolution

#: Smallest probability taken to the log (float32 keeps ~1e-38 as a normal number).
PROB_FLOOR = 1e-30


@dataclass(frozen=True, eq=False)
class TreeSchedule:
    """A tree's directed edges and the order BP computes their messages in.

    Attributes:
        num_nodes: N.
        edges: ``(sender, receiver)`` per directed edge, in kernel-channel order (2L of them).
        levels: edge ids computed together, in order; every edge a level needs comes earlier.
        sender_inputs: ``(E, E)`` 0-1 float: ``[e, f] = 1`` when message ``f`` enters the sender
            of ``e`` from a node other than ``e``'s receiver (the product that forms the belief
            sent along ``e``).
        incoming: ``(N, E)`` 0-1 float: ``[n, f] = 1`` when message ``f`` enters node ``n``.
    """

    num_nodes: int
    edges: tuple[tuple[int, int], ...]
    levels: tuple[tuple[int, ...], ...]
    sender_inputs: Tensor
    incoming: Tensor

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    @property
    def senders(self) -> list[int]:
        return [s for s, _ in self.edges]

    @property
    def receivers(self) -> list[int]:
        return [r for _, r in self.edges]


def _check_tree(limbs: Sequence[Sequence[int]], num_nodes: int) -> list[list[int]]:
    """Adjacency lists; a clear error when ``limbs`` is not a spanning tree of the nodes."""
    if len(limbs) != num_nodes - 1:
        raise ValueError(f'belief_propagation: a tree on {num_nodes} nodes has {num_nodes - 1} '
                         f'edges, got {len(limbs)} limbs')
    neighbours: list[list[int]] = [[] for _ in range(num_nodes)]
    for a, b in limbs:
        if not (0 <= a < num_nodes and 0 <= b < num_nodes) or a == b:
            raise ValueError(f'belief_propagation: limb ({a}, {b}) is not an edge between two '
                             f'distinct nodes of 0..{num_nodes - 1}')
        neighbours[a].append(b)
        neighbours[b].append(a)
    return neighbours


def _depths(neighbours: list[list[int]], root: int) -> list[int]:
    """Breadth-first depth of every node from ``root``; an error if the graph is disconnected."""
    depth = [-1] * len(neighbours)
    depth[root] = 0
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for nxt in neighbours[node]:
            if depth[nxt] < 0:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    if min(depth) < 0:
        lost = [n for n, d in enumerate(depth) if d < 0]
        raise ValueError(f'belief_propagation: the limbs do not connect nodes {lost} to the '
                         f'root {root}: not a tree')
    return depth


def tree_schedule(limbs: Sequence[Sequence[int]], num_nodes: int | None = None,
                  root: int = 0) -> TreeSchedule:
    """The leaves -> root -> leaves schedule of a tree given by its undirected ``limbs``.

    Upward messages (child -> parent) go deepest children first, one level per depth; downward
    messages (parent -> child) go from the root outwards. An upward message needs only the
    upward messages into its sender; a downward one needs those plus the downward message into
    its sender, computed one level before: so each level reads only earlier levels.
    """
    limbs = [(int(a), int(b)) for a, b in limbs]
    if num_nodes is None:
        num_nodes = 1 + max(max(limb) for limb in limbs) if limbs else 1
    neighbours = _check_tree(limbs, num_nodes)
    if not 0 <= root < num_nodes:
        raise ValueError(f'belief_propagation: root {root} is not a node of 0..{num_nodes - 1}')
    depth = _depths(neighbours, root)
    edges = directed_edges(limbs)

    def is_upward(edge: tuple[int, int]) -> bool:
        return depth[edge[0]] > depth[edge[1]]

    max_depth = max(depth)
    up = [tuple(e for e, edge in enumerate(edges) if is_upward(edge) and depth[edge[0]] == d)
          for d in range(max_depth, 0, -1)]
    down = [tuple(e for e, edge in enumerate(edges)
                  if not is_upward(edge) and depth[edge[0]] == d) for d in range(max_depth)]
    levels = tuple(level for level in up + down if level)

    num_edges = len(edges)
    sender_inputs = torch.zeros(num_edges, num_edges)
    incoming = torch.zeros(num_nodes, num_edges)
    for f, (fs, fr) in enumerate(edges):
        incoming[fr, f] = 1.0
        for e, (es, er) in enumerate(edges):
            if fr == es and fs != er:
                sender_inputs[e, f] = 1.0
    return TreeSchedule(num_nodes, tuple(edges), levels, sender_inputs, incoming)


def symmetric_edge_kernels(forward_kernels: Tensor) -> Tensor:
    """``(..., L, kh, kw)`` kernels of the ``a -> b`` edges -> ``(..., 2L, kh, kw)`` with the
    ``b -> a`` kernels as their 180-degree rotations: one consistent pairwise potential per limb.
    """
    return torch.cat([forward_kernels, forward_kernels.flip(-2, -1)], dim=-3)


def _log_normalise(log_maps: Tensor) -> Tensor:
    """Log of the maps normalised to sum 1 over the last two dimensions."""
    return log_maps - torch.logsumexp(log_maps.flatten(-2), dim=-1)[..., None, None]


def _safe_log(maps: Tensor) -> Tensor:
    return maps.clamp_min(PROB_FLOOR).log()


def tree_belief_propagation(unary: Tensor, kernels: Tensor, schedule: TreeSchedule,
                            return_messages: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Marginals of every node of the tree model (module docstring), by sum-product BP.

    Args:
        unary: ``(B, N, H, W)`` non-negative unary potentials (any scale; values <= 0 are
            floored at :data:`PROB_FLOOR`).
        kernels: ``(E, kh, kw)`` or ``(B, E, kh, kw)`` non-negative edge kernels in the order
            of ``schedule.edges``.
        schedule: :func:`tree_schedule` of the tree.
        return_messages: also return the normalised messages ``(B, E, H, W)``.
    Returns:
        marginals ``(B, N, H, W)``, each map summing to 1: the normalised product of the node's
        unary and all its incoming messages. Computed in float32 (float64 stays float64), with
        autocast off: products of many small probabilities need the range.
    """
    if unary.ndim != 4 or unary.shape[1] != schedule.num_nodes:
        raise ValueError(f'unary must be (B, {schedule.num_nodes}, H, W), got '
                         f'{tuple(unary.shape)}')
    if kernels.shape[-3] != schedule.num_edges:
        raise ValueError(f'{schedule.num_edges} directed edges need as many kernels, got '
                         f'{tuple(kernels.shape)}')
    dtype = torch.float64 if unary.dtype == torch.float64 else torch.float32
    with torch.autocast(unary.device.type, enabled=False):
        unary = unary.to(dtype)
        kernels = kernels.to(dtype)
        b, _, h, w = unary.shape
        device = unary.device
        log_unary = _safe_log(unary)
        sender_inputs = schedule.sender_inputs.to(device, dtype)
        incoming = schedule.incoming.to(device, dtype)
        senders = torch.as_tensor(schedule.senders, device=device)
        log_messages = unary.new_zeros(b, schedule.num_edges, h, w)  # log 1: "no message yet"
        for level in schedule.levels:
            idx = torch.as_tensor(level, device=device)
            log_belief = (log_unary.index_select(1, senders[idx])
                          + torch.einsum('ef,bfhw->behw', sender_inputs[idx], log_messages))
            belief = _log_normalise(log_belief).exp()
            level_kernels = kernels.index_select(-3, idx)
            messages = spatial_convolution(belief, level_kernels)
            log_messages = log_messages.index_copy(1, idx, _log_normalise(_safe_log(messages)))
        log_marginals = log_unary + torch.einsum('nf,bfhw->bnhw', incoming, log_messages)
        marginals = _log_normalise(log_marginals).exp()
    if return_messages:
        return marginals, log_messages.exp()
    return marginals
