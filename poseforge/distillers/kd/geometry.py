"""How a teacher of another input size, stride or skeleton is read on the student's terms.

**The teacher's input.** The teacher sees the student's crop, resized to its own input size
(``teacher_input_size``; bilinear, half-pixel centres as ``F.interpolate(align_corners=False)``,
antialiased when it shrinks) and re-normalised with the teacher's own mean / std when its data
preprocessor differs. It is the same hand in the same framing, only sampled at the teacher's
resolution, so a teacher trained on 256 px crops teaches a 64 px student without a second data
pipeline: one loader, one augmentation, the teacher and the student always agree on the image.

**Heatmap grids.** Both codecs place keypoint ``x`` (input px) at heatmap coordinate
``u = x * heatmap_size / input_size`` (poseforge's ``MSRAHeatmap``, as mmpose's). A student
heatmap pixel ``u_s`` is student input ``x_s = u_s * W_s / w_s``; the resize puts that content
at teacher input ``x_t = (x_s + 1/2) * W_t / W_s - 1/2``; the teacher's heatmap holds it at
``u_t = x_t * w_t / W_t``. :func:`resample_to_student` samples the teacher's maps at those exact
``u_t`` (``grid_sample``, bilinear, zeros outside), which is an affine map per axis; a plain
``F.interpolate`` of the maps would shift them by up to half a teacher heatmap pixel because it
assumes pixel-centre alignment, which the codecs do not use. Same sizes: the identity, exactly.

**Keypoint maps.** A student may predict a subset or a re-ordering of the teacher's keypoints:
``keypoint_map[k]`` is the teacher index that student keypoint ``k`` learns from, ``-1`` (or
``None``) for a student keypoint the teacher does not have (its KD terms get weight 0).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from poseforge.utils.config import ConfigError


def teacher_coordinates(num_dst: int, dst_map: int, dst_input: int, src_map: int,
                        src_input: int, device=None) -> Tensor:
    """Teacher heatmap coordinate ``u_t`` of each student heatmap pixel ``0 .. num_dst - 1``
    along one axis (see the module docstring)."""
    u_s = torch.arange(num_dst, dtype=torch.float64, device=device)
    x_s = u_s * dst_input / dst_map
    x_t = (x_s + 0.5) * src_input / dst_input - 0.5 if src_input != dst_input else x_s
    return x_t * src_map / src_input


def resample_to_student(maps: Tensor, teacher_input: Sequence[int], student_input: Sequence[int],
                        student_map: Sequence[int]) -> Tensor:
    """Teacher maps ``(B, C, h_t, w_t)`` on the student's grid ``(B, C, h_s, w_s)``.

    Args:
        maps: the teacher's heatmaps (or any map aligned like them).
        teacher_input / student_input: ``(H, W)`` input sizes in px.
        student_map: ``(h_s, w_s)`` the student's heatmap size.
    """
    h_t, w_t = maps.shape[-2:]
    h_s, w_s = student_map
    if (h_t, w_t) == (h_s, w_s) and tuple(teacher_input) == tuple(student_input):
        return maps
    uy = teacher_coordinates(h_s, h_s, student_input[0], h_t, teacher_input[0], maps.device)
    ux = teacher_coordinates(w_s, w_s, student_input[1], w_t, teacher_input[1], maps.device)
    # grid_sample with align_corners=True puts -1 / +1 on the first / last pixel centres.
    gy = 2 * uy / max(h_t - 1, 1) - 1
    gx = 2 * ux / max(w_t - 1, 1) - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)
    grid = grid.to(maps.dtype if maps.is_floating_point() else torch.float32)
    grid = grid.unsqueeze(0).expand(maps.shape[0], -1, -1, -1)
    return F.grid_sample(maps.float(), grid.float(), mode='bilinear', padding_mode='zeros',
                         align_corners=True)


def resize_input(inputs: Tensor, size: Sequence[int] | None) -> Tensor:
    """The student's normalised crop ``(B, 3, H, W)`` at the teacher's ``(H_t, W_t)``."""
    if size is None or tuple(inputs.shape[-2:]) == tuple(size):
        return inputs
    shrinking = size[0] < inputs.shape[-2] or size[1] < inputs.shape[-1]
    return F.interpolate(inputs, size=tuple(size), mode='bilinear', align_corners=False,
                         antialias=shrinking)


def renormalize(inputs: Tensor, src_mean: Tensor, src_std: Tensor, dst_mean: Tensor,
                dst_std: Tensor) -> Tensor:
    """Images normalised with ``(src_mean, src_std)`` -> normalised with ``(dst_mean,
    dst_std)`` (the teacher's preprocessor statistics)."""
    return (inputs * src_std + src_mean - dst_mean) / dst_std


class KeypointMap:
    """Student keypoint -> teacher keypoint (``None``: the same keypoints, same order).

    Args:
        mapping: one teacher index per student keypoint; ``-1`` / ``None`` where the teacher
            has no counterpart.
        num_teacher: the teacher's keypoint count (checked when known).
    """

    def __init__(self, mapping: Sequence[int | None] | None, num_teacher: int | None = None,
                 num_student: int | None = None) -> None:
        self.mapping = None if mapping is None else [-1 if i is None else int(i)
                                                     for i in mapping]
        if self.mapping is not None:
            bad = [i for i in self.mapping if i < -1 or (num_teacher is not None and
                                                          i >= num_teacher)]
            if bad:
                raise ConfigError(f'keypoint_map has teacher indices {bad} outside 0..'
                                  f'{(num_teacher or 0) - 1} (or -1 for none)')
            if num_student is not None and len(self.mapping) != num_student:
                raise ConfigError(f'keypoint_map has {len(self.mapping)} entries for a student '
                                  f'with {num_student} keypoints')
        elif (num_teacher is not None and num_student is not None
              and num_teacher != num_student):
            raise ConfigError(f'the teacher predicts {num_teacher} keypoints and the student '
                              f'{num_student}: give keypoint_map (one teacher index per '
                              'student keypoint, -1 for none)')

    def select(self, teacher_maps: Tensor) -> Tensor:
        """``(B, K_t, h, w)`` -> ``(B, K_s, h, w)`` (zeros for unmapped keypoints)."""
        if self.mapping is None:
            return teacher_maps
        index = torch.tensor([max(i, 0) for i in self.mapping], device=teacher_maps.device)
        out = teacher_maps.index_select(1, index)
        return out * self.valid(teacher_maps).reshape(1, -1, 1, 1).to(out.dtype)

    def valid(self, like: Tensor) -> Tensor:
        """``(K_s,)`` float: 1 where the student keypoint has a teacher keypoint."""
        if self.mapping is None:
            raise ValueError('valid() needs a mapping')
        return torch.tensor([float(i >= 0) for i in self.mapping], device=like.device)

    def mask(self, weights: Tensor) -> Tensor:
        """Student keypoint weights ``(B, K_s)`` with unmapped keypoints set to 0."""
        if self.mapping is None:
            return weights
        return weights * self.valid(weights).to(weights.dtype)
