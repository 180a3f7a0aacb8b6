"""R-MGMN's geometry: the hand's in-plane angle, rotation matrices, and resampling maps about
a centre (crop upright before the branches, maps back afterwards).

Angle convention: the direction from the wrist (joint 0) to the middle finger's root (joint 9)
(``angle_joints``), measured from "up" in image coordinates (x right, y down), so a positive
angle is a clockwise turn on screen. A crop rotated *counter-clockwise* by 90 degrees
(``torch.rot90(x, 1, (-2, -1))``) has its hand angle decreased by 90 degrees. Angles travel as
unit ``(cos, sin)`` vectors.

The crop is rotated about its middle pixel ``((W-1)/2, (H-1)/2)``, the maps back about the
same point in heatmap coordinates *as the codec defines them* (:func:`heatmap_centre`: input
pixel ``p`` is heatmap point ``p * w / W``), not about the maps' own middle cell: the targets
then turn exactly as the image does, and the fixed offset the network learns between its
receptive fields and the codec's grid (``(s-1)/2`` input pixels) does not change with the
angle. (Rotating about the middle cell would ask the upright network for an angle-dependent
shift of up to ``1.2`` cells at stride 8, which it cannot know.) Consequence: under the codec,
``torch.rot90`` of the crop is *not* ``torch.rot90`` of its heatmaps, but a quarter turn about
:func:`heatmap_centre` (``rot90`` plus a ``1 - 1/s`` cell shift along one axis).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: wrist -> middle finger root in ``hand21``: the hand's "up" direction.
DEFAULT_ANGLE_JOINTS = (0, 9)


def as_cos_sin(angle: Tensor) -> Tensor:
    """Angles ``(B,)`` in radians or ``(B, 2)`` vectors -> unit ``(cos, sin)`` ``(B, 2)``."""
    if angle.ndim == 1:
        return torch.stack([angle.cos(), angle.sin()], dim=1)
    if angle.ndim != 2 or angle.shape[1] != 2:
        raise ValueError(f'an angle must be (B,) radians or (B, 2) (cos, sin), got '
                         f'{tuple(angle.shape)}')
    return F.normalize(angle, dim=1, eps=1e-12)


def rotation_matrices(cos_sin: Tensor) -> Tensor:
    """``(B, 2)`` -> ``(B, 2, 2)`` ``[[c, -s], [s, c]]`` acting on ``(x, y)`` image coordinates."""
    c, s = cos_sin[:, 0], cos_sin[:, 1]
    return torch.stack([torch.stack([c, -s], dim=1), torch.stack([s, c], dim=1)], dim=1)


def rotate_maps(maps: Tensor, cos_sin: Tensor, inverse: bool = False,
                centre: Sequence[float] | None = None) -> Tensor:
    """Resample ``(B, C, H, W)`` maps so that ``out(c + p) = maps(c + R p)``.

    With ``R = R(angle)`` of the hand this turns the hand upright; ``inverse=True`` samples at
    ``c + R^T p`` and undoes it. ``centre`` ``c`` is ``(x, y)`` in the maps' pixels (pixel
    ``i`` at coordinate ``i``); default: the middle, ``((W - 1) / 2, (H - 1) / 2)``. Bilinear,
    zeros outside (``grid_sample``, ``align_corners=False``); non-square maps are handled in
    pixel units, so the rotation is a true rotation on screen. Half-precision maps are
    resampled (and returned) in float32.
    """
    if maps.dtype in (torch.float16, torch.bfloat16):  # sampling positions need float32
        maps = maps.float()
    b, _, h, w = maps.shape
    rot = rotation_matrices(cos_sin.to(maps.dtype))
    if inverse:
        rot = rot.transpose(1, 2)
    # pixel = scale * normalised + middle (align_corners=False), so in normalised coordinates
    # the map is  n -> S^-1 R S n + S^-1 (I - R)(c - middle)
    scale = maps.new_tensor([w / 2.0, h / 2.0])
    affine = rot * scale[None, None, :] / scale[None, :, None]
    middle = maps.new_tensor([(w - 1) / 2.0, (h - 1) / 2.0])
    shift = (maps.new_zeros(2) if centre is None else maps.new_tensor(list(centre)) - middle)
    eye = torch.eye(2, dtype=maps.dtype, device=maps.device)
    translation = torch.einsum('bij,j->bi', eye - rot, shift) / scale
    theta = torch.cat([affine, translation[:, :, None]], dim=2)
    grid = F.affine_grid(theta, [b, maps.shape[1], h, w], align_corners=False)
    return F.grid_sample(maps, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def heatmap_centre(input_size: Sequence[int], heatmap_size: Sequence[int]) -> tuple[float, float]:
    """Where the input's centre pixel lies on the heatmap, in the codec's convention.

    :class:`~poseforge.codecs.MSRAHeatmap` puts input pixel ``p`` at heatmap coordinate
    ``p * heatmap_size / input_size``; rotating the maps about this point (not about their own
    middle, which is ``(1 - 1/stride) / 2`` cells away) is what turns heatmap targets exactly as
    the image turns, so the offset the network learns between its receptive fields and the
    codec's grid stays the same at every angle.
    """
    (in_w, in_h), (hm_w, hm_h) = input_size, heatmap_size
    return (in_w - 1) / 2.0 * hm_w / in_w, (in_h - 1) / 2.0 * hm_h / in_h


def hand_angle(keypoints: Tensor, joints: Sequence[int] = DEFAULT_ANGLE_JOINTS
               ) -> tuple[Tensor, Tensor]:
    """The hand's in-plane angle from ``(B, K, 2)`` keypoints: unit ``(cos, sin)`` ``(B, 2)``.

    ``v = p[joints[1]] - p[joints[0]]``; the angle rotates "up" ``(0, -1)`` onto ``v``, so
    ``(cos, sin) = (-v_y, v_x) / |v|``. Also returns ``(B,)`` bool: ``|v| > 0`` and finite.
    """
    v = keypoints[:, joints[1]] - keypoints[:, joints[0]]
    length = v.norm(dim=1)
    valid = torch.isfinite(length) & (length > 1e-6)
    cos_sin = torch.stack([-v[:, 1], v[:, 0]], dim=1) / length.clamp_min(1e-6)[:, None]
    return torch.where(valid[:, None], cos_sin, cos_sin.new_tensor([1.0, 0.0])), valid
