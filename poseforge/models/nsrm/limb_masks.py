"""Limb masks: the structure targets of NSRM (Chen et al., "Nonparametric Structure
Regularization Machine for 2D Hand Pose Estimation", WACV 2020).

Each limb is the segment between two joints, on the heatmap grid (cell centres at integer
coordinates, as the heatmap codec places its Gaussians; keypoints in heatmap cells =
input px * heatmap_size / input_size). Two kinds of mask:

* **LPM** (limb probability mask): ``exp(-D^2 / (2 sigma^2))``, ``D`` = distance from the cell to
  the segment. The original (``dataset/hand_lpm.py`` of HowieMa/NSRMhand) builds its "middle"
  mask as ``1 - mask1 | mask2``, which is ``(not before_start) or beyond_end``: beyond the
  distal joint both the end-point distance and the distance to the infinite line's foot are
  added, so the mask falls off too fast past every distal joint. Here ``D`` is the true
  point-to-segment distance (the foot of the perpendicular clamped to the segment).
* **LDM** (limb deterministic mask, ``dataset/hand_ldm.py``): 1 where the perpendicular
  distance to the limb's line is at most ``width`` *and* the perpendicular's foot lies within
  the segment (a rectangle, no rounded caps), else 0.

Special cases, decided here (the original has none of them: its datasets label all 21 joints):

* A limb with an end that is not visible (``visible`` false) or not finite contributes nothing
  (an all-zero mask): the position of an unlabelled joint is unknown.
* A degenerate limb (coincident joints, length 0): every cell's foot is the single point, so
  LPM is the point's Gaussian (``D`` = distance to the point) and LDM is the disc of radius
  ``width`` around it (the "perpendicular" distance to a point is the distance to it, and the
  foot is inside the segment). The original divides by ``length + 1e-8``: its LPM gives the
  same Gaussian, but its LDM fills the *whole map* with ones (zero unit vector, so every cell
  has distance 0 along and across the limb).
* Joints outside the crop need nothing special: the formulas hold for any coordinates and the
  grid keeps the part of the limb that crosses it.

Groupings (paper Sec. 3.2): ``G1`` = one map, the pixel-wise maximum of all limbs (for binary
LDM the maximum is the union); ``G6`` = five finger maps (limbs 1-3, 5-7, 9-11, 13-15, 17-19 of
``hand21``) and the palm (limbs 0, 4, 8, 12, 16, wrist -> finger roots); ``G1&6`` = ``cat[G1,
G6]``, 7 maps (``limb_group`` in the original's datasets).

Everything is torch, vectorised over batch x limbs x cells, on the keypoints' device, in
float32 (targets are exact whatever autocast does to the network).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from poseforge.skeletons import HAND21, HAND21_FINGER_JOINTS, Skeleton

MASK_TYPES: tuple[str, ...] = ('lpm', 'ldm')
GROUPINGS: tuple[str, ...] = ('G1', 'G6', 'G1&6')
_GROUPING_ALIASES = {'g1': 'G1', 'g6': 'G6', 'g1&6': 'G1&6', 'g1and6': 'G1&6', 'g1_6': 'G1&6',
                     'g16': 'G1&6'}

LimbGroups = tuple[tuple[int, ...], ...]


# --------------------------------------------------------------------------- groupings
def hand21_finger_and_palm_groups(skeleton: Skeleton = HAND21) -> LimbGroups:
    """G6 of a 21-joint hand: one group per finger (limbs between that finger's joints, root ->
    tip), then the palm (limbs from the wrist, joint 0, to each finger root).

    Derived from ``skeleton.limbs`` rather than written out, so it follows the layout's limb
    order; for ``hand21`` it is NSRM's ``groups6``.
    """
    limbs = skeleton.limbs
    fingers = tuple(tuple(i for i, (a, b) in enumerate(limbs) if a in joints and b in joints)
                    for joints in HAND21_FINGER_JOINTS.values())
    palm = tuple(i for i, (a, b) in enumerate(limbs) if 0 in (a, b))
    return fingers + (palm,)


def canonical_grouping(grouping: str) -> str:
    """``'G1'``, ``'G6'`` or ``'G1&6'`` (also accepts ``g1and6``, ``G1_6``, any case)."""
    name = _GROUPING_ALIASES.get(str(grouping).lower())
    if name is None:
        raise ValueError(f"limb_masks: unknown limb grouping {grouping!r}; expected one of "
                         f"{', '.join(GROUPINGS)} (or 'G1and6')")
    return name


def grouping_limb_groups(grouping: str, num_limbs: int = len(HAND21.limbs),
                         g6: LimbGroups | None = None) -> LimbGroups:
    """The limb index groups, one per output channel, of a grouping.

    Args:
        grouping: ``G1`` / ``G6`` / ``G1&6``.
        num_limbs: limbs that ``G1`` merges (all of them).
        g6: the finger/palm groups; default :func:`hand21_finger_and_palm_groups`.
    """
    grouping = canonical_grouping(grouping)
    g1: LimbGroups = (tuple(range(num_limbs)),)
    if grouping == 'G1':
        return g1
    g6 = hand21_finger_and_palm_groups() if g6 is None else tuple(tuple(g) for g in g6)
    return g6 if grouping == 'G6' else g1 + g6


def num_limb_maps(grouping: str) -> int:
    """Channels of a grouping's target: G1 -> 1, G6 -> 6, G1&6 -> 7 (``hand21``)."""
    return len(grouping_limb_groups(grouping))


def group_limb_masks(masks: Tensor, groups: Sequence[Sequence[int]]) -> Tensor:
    """``(B, L, H, W)`` per-limb masks -> ``(B, G, H, W)``: each group's pixel-wise maximum.

    Masks are non-negative, so the maximum of binary LDMs is their union; an empty group is an
    all-zero map. One ``amax`` per group (at most 7), each over the batch and all cells.
    """
    num_limbs = masks.shape[1]
    out = []
    for group in groups:
        if any(not 0 <= i < num_limbs for i in group):
            raise IndexError(f'limb_masks: group {tuple(group)} names a limb outside 0..'
                             f'{num_limbs - 1}')
        out.append(masks[:, list(group)].amax(dim=1) if len(group) else
                   masks.new_zeros(masks.shape[0], *masks.shape[2:]))
    return torch.stack(out, dim=1)


# --------------------------------------------------------------------------- geometry
def limb_endpoints(keypoints: Tensor, visible: Tensor | None,
                   limbs: Sequence[Sequence[int]] | Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Start and end of every limb, and whether both ends are usable.

    Args:
        keypoints: ``(B, K, 2)`` heatmap cells.
        visible: ``(B, K)`` bool or float (>= 0.5 counts as visible); ``None`` = all visible.
        limbs: ``(L, 2)`` joint index pairs.
    Returns:
        ``starts``, ``ends`` ``(B, L, 2)`` float32 (non-finite coordinates replaced by 0, so
        they cannot poison the arithmetic; their limbs are invalid), ``valid`` ``(B, L)`` bool.
    """
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f'limb_masks: keypoints must be (B, K, 2), got '
                         f'{tuple(keypoints.shape)}')
    keypoints = keypoints.float()
    limbs = torch.as_tensor(limbs, dtype=torch.long, device=keypoints.device).reshape(-1, 2)
    num_keypoints = keypoints.shape[1]
    if limbs.numel() and (limbs.min() < 0 or limbs.max() >= num_keypoints):
        raise IndexError(f'limb_masks: a limb names a joint outside 0..{num_keypoints - 1}')
    usable = torch.isfinite(keypoints).all(dim=-1)
    if visible is not None:
        visible = visible.to(keypoints.device)
        visible = visible if visible.dtype == torch.bool else visible.float() >= 0.5
        usable = usable & visible.reshape(usable.shape)
    safe = torch.where(usable[..., None], keypoints, keypoints.new_zeros(()))
    starts, ends = safe[:, limbs[:, 0]], safe[:, limbs[:, 1]]
    valid = usable[:, limbs[:, 0]] & usable[:, limbs[:, 1]]
    return starts, ends, valid


def _segment_terms(starts: Tensor, ends: Tensor, size: Sequence[int]
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per limb and cell: offsets from the start ``dx, dy`` (broadcastable to ``(B, L, H, W)``),
    the limb vector ``vx, vy`` and squared length ``len2`` (``(B, L, 1, 1)``), the projection
    ``dot = (p - a).(b - a)`` and whether the limb is degenerate."""
    width, height = int(size[0]), int(size[1])
    xs = torch.arange(width, dtype=torch.float32, device=starts.device).view(1, 1, 1, width)
    ys = torch.arange(height, dtype=torch.float32, device=starts.device).view(1, 1, height, 1)
    ax, ay = starts[..., 0, None, None], starts[..., 1, None, None]  # (B, L, 1, 1)
    vx = ends[..., 0, None, None] - ax
    vy = ends[..., 1, None, None] - ay
    dx, dy = xs - ax, ys - ay  # (B, L, 1, W), (B, L, H, 1)
    len2 = vx * vx + vy * vy
    dot = dx * vx + dy * vy  # (B, L, H, W)
    return dx, dy, vx, vy, len2, dot, len2 <= 0


def segment_distance_sq(starts: Tensor, ends: Tensor, size: Sequence[int]) -> Tensor:
    """Squared distance from every cell to every segment: ``(B, L, H, W)``.

    The foot of the perpendicular, ``a + t (b - a)``, with ``t`` clamped to ``[0, 1]``: before
    the start it is the start, beyond the end the end (the original adds both terms there). A
    degenerate segment has ``t = 0``: the distance to its point.
    """
    dx, dy, vx, vy, len2, dot, degenerate = _segment_terms(starts, ends, size)
    t = (dot / torch.where(degenerate, torch.ones_like(len2), len2)).clamp(0.0, 1.0)
    t = torch.where(degenerate, torch.zeros_like(t), t)
    return (dx - t * vx).square() + (dy - t * vy).square()


def limb_probability_masks(keypoints: Tensor, visible: Tensor | None,
                           limbs: Sequence[Sequence[int]] | Tensor, size: Sequence[int],
                           sigma: float = 1.0) -> Tensor:
    """LPM of every limb: ``(B, L, H, W)`` float32, ``exp(-D^2 / (2 sigma^2))``.

    Args:
        keypoints: ``(B, K, 2)`` heatmap cells; visible: ``(B, K)`` (see :func:`limb_endpoints`).
        limbs: ``(L, 2)`` joint pairs; size: heatmap ``(W, H)``; sigma: in cells (NSRM: 1).
    """
    if not sigma > 0:
        raise ValueError(f'limb_masks: LPM sigma must be positive, got {sigma}')
    starts, ends, valid = limb_endpoints(keypoints, visible, limbs)
    masks = torch.exp(segment_distance_sq(starts, ends, size) * (-0.5 / (sigma * sigma)))
    return masks * valid[..., None, None]


def limb_deterministic_masks(keypoints: Tensor, visible: Tensor | None,
                             limbs: Sequence[Sequence[int]] | Tensor, size: Sequence[int],
                             width: float = 1.0) -> Tensor:
    """LDM of every limb: ``(B, L, H, W)`` float32 in {0, 1}.

    1 where ``0 <= (p - a).(b - a) <= |b - a|^2`` (the foot lies within the segment) and the
    perpendicular distance ``|(p - a) x (b - a)| / |b - a|`` is at most ``width`` cells (NSRM:
    1). Compared squared, without a square root or a division where the limb is degenerate
    (then: the disc of radius ``width`` around the point, see the module docstring).
    """
    if not width >= 0:
        raise ValueError(f'limb_masks: LDM width must be non-negative, got {width}')
    starts, ends, valid = limb_endpoints(keypoints, visible, limbs)
    dx, dy, vx, vy, len2, dot, degenerate = _segment_terms(starts, ends, size)
    cross = dx * vy - dy * vx
    perp2 = torch.where(degenerate, dx.square() + dy.square(),
                        cross.square() / torch.where(degenerate, torch.ones_like(len2), len2))
    inside = (dot >= 0) & (dot <= len2) & (perp2 <= width * width)
    return (inside & valid[..., None, None]).float()


# --------------------------------------------------------------------------- targets
def limb_targets(keypoints: Tensor, visible: Tensor | None, size: Sequence[int],
                 mask_type: str = 'lpm', grouping: str = 'G1&6', sigma: float = 1.0,
                 width: float = 1.0, limbs: Sequence[Sequence[int]] | None = None,
                 g6: LimbGroups | None = None) -> Tensor:
    """NSRM's limb target ``(B, C, H, W)`` for a grouping (C = 1, 6 or 7 for ``hand21``).

    Args:
        keypoints: ``(B, K, 2)`` heatmap cells. visible: ``(B, K)`` or ``None``.
        size: heatmap ``(W, H)``. mask_type: ``'lpm'`` or ``'ldm'``.
        grouping: ``'G1'``, ``'G6'`` or ``'G1&6'``.
        sigma: LPM width (cells). width: LDM half-width (cells).
        limbs: joint pairs; default ``hand21``'s 20 limbs. g6: the finger/palm limb groups.
    """
    mask_type = str(mask_type).lower()
    if mask_type not in MASK_TYPES:
        raise ValueError(f"limb_masks: unknown mask type {mask_type!r}; expected 'lpm' or 'ldm'")
    limbs = HAND21.limbs if limbs is None else limbs
    if mask_type == 'lpm':
        masks = limb_probability_masks(keypoints, visible, limbs, size, sigma)
    else:
        masks = limb_deterministic_masks(keypoints, visible, limbs, size, width)
    return group_limb_masks(masks, grouping_limb_groups(grouping, masks.shape[1], g6))
