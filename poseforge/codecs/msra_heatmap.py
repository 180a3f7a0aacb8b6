"""Gaussian heatmap codec ("MSRA" heatmaps, Xiao et al. 2018) with DARK decoding.

Follows mmpose 1.x ``MSRAHeatmap`` (``mmpose/codecs/msra_heatmap.py``) in its conventions:
keypoints in input-image pixels are divided by ``input_size / heatmap_size`` before the Gaussian
is placed, decoded locations are multiplied back, a keypoint is dropped from the loss (weight 0)
when it is unlabelled or its 3-sigma box lies wholly outside the heatmap, and a heatmap whose
maximum is not positive decodes to ``-1`` (heatmap px) with that maximum as score.

Where poseforge differs, on purpose:

* ``encode`` always centres the Gaussian at the exact sub-pixel location (mmpose's
  ``unbiased=True`` encoding; its default rounds the centre to a whole pixel, which caps the
  round-trip accuracy at 0.5 px). It is built as the outer product of two 1-D Gaussians for all
  keypoints at once instead of a Python loop per keypoint.
* DARK refinement (Zhang et al. 2020, "Distribution-Aware Coordinate Representation") takes one
  Newton step on the log-heatmap from the arg-max, but evaluates the 3x3 finite-difference stencil
  at the arg-max *clamped one pixel inside the border*. The log of a Gaussian is an exact
  quadratic, so a Newton step from any nearby pixel lands on its centre: keypoints at, or just
  beyond, the heatmap border are recovered too, where mmpose skips refinement (``1 < x < W - 2``)
  and so errs by up to half a heatmap pixel. The step is kept only where the Hessian is negative
  definite (a maximum) and is limited to one heatmap pixel from the arg-max, so a noisy
  prediction cannot throw the keypoint away.
* The DARK blur ("distribution modulation", meant for network outputs) is optional
  (``blur_kernel_size`` <= 1 skips it) and is only evaluated where it is used: on the 3x3
  stencil around each arg-max (a small separable convolution of a ``(k+2)^2`` window), not on
  the whole heatmap stack. It is trusted only where that window lies inside the heatmap; nearer
  the border mmpose's zero padding would stand in for the clipped Gaussian tail and pull the
  peak inwards (by up to ~1.7 heatmap px), so there the raw heatmap is refined instead.
  Consequence: encode -> decode is exact to float precision for any keypoint in
  ``[-1, W] x [-1, H]`` heatmap px, with or without the blur (beyond that the step is capped).

``decode`` (numpy) and ``batch_decode`` (torch, on the heatmaps' device) share this algorithm
operation for operation, both vectorised over every leading dimension.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from poseforge.registry import KEYPOINT_CODECS

_LOG_FLOOR = 1e-10  # log(max(h, floor)): mmpose's guard against log(0)
_ZERO, _INF = np.float32(0), np.float32(np.inf)  # encode's fill values, made once


def gaussian_blur_kernel(kernel_size: int) -> np.ndarray:
    """1-D normalised Gaussian kernel (float32) with OpenCV's sigma rule for ``kernel_size``.

    ``sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8`` is what ``cv2.GaussianBlur(..., sigmaX=0)`` uses
    and what mmpose's DARK blur relies on (k=11 -> sigma 2, k=17 -> sigma ~3). Computing it here
    lets the numpy and torch decoders use identical weights.
    """
    if kernel_size % 2 != 1 or kernel_size < 1:
        raise ValueError(f'blur kernel size must be a positive odd integer, got {kernel_size}')
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    r = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    kernel = np.exp(-r * r / (2 * sigma * sigma))
    return (kernel / kernel.sum()).astype(np.float32)


def _pair(value: Sequence[int], name: str) -> tuple[int, int]:
    if len(value) != 2 or any(int(v) != v or v <= 0 for v in value):
        raise ValueError(f'{name} must be two positive integers (w, h), got {value!r}')
    return int(value[0]), int(value[1])


@KEYPOINT_CODECS.register_module()
class MSRAHeatmap:
    """Gaussian heatmaps at the keypoints' exact sub-pixel locations; arg-max + DARK decoding.

    Args:
        input_size: model input ``(w, h)`` in px (the crop ``TopdownAffine`` produces).
        heatmap_size: heatmap ``(W, H)``.
        sigma: Gaussian standard deviation in heatmap px.
        blur_kernel_size: DARK modulation kernel (odd; <= 1 disables the blur). 11 suits
            ``sigma=2`` (mmpose's pairing: 17 for sigma 3).
        unbiased: DARK sub-pixel refinement on decode; ``False`` uses the classic quarter-pixel
            shift towards the higher neighbour.
    """

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int],
                 sigma: float = 2.0, blur_kernel_size: int = 11, unbiased: bool = True) -> None:
        self.input_size = _pair(input_size, 'input_size')
        self.heatmap_size = _pair(heatmap_size, 'heatmap_size')
        if min(self.heatmap_size) < 3:
            raise ValueError(f'heatmap_size must be at least 3x3, got {self.heatmap_size}')
        if not sigma > 0:
            raise ValueError(f'sigma must be positive, got {sigma}')
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size or 0)
        self.unbiased = bool(unbiased)
        self._blur = (gaussian_blur_kernel(self.blur_kernel_size)
                      if self.blur_kernel_size > 1 else None)
        # heatmap px per input px, (x, y)
        self.heatmap_per_input = np.array(
            [self.heatmap_size[0] / self.input_size[0],
             self.heatmap_size[1] / self.input_size[1]], dtype=np.float32)
        # one grid for x and y (the longer side; each axis reads its own length of it), so both
        # 1-D Gaussians of every keypoint come from a single exp
        self._grid = np.arange(max(self.heatmap_size), dtype=np.float32)
        self._inv_two_var = np.float32(-0.5 / (self.sigma * self.sigma))
        # (W, H), for keypoint_weights; float32 like the centres it is compared with (exact
        # for any heatmap size), so the comparison needs no promotion to float64
        self._size = np.array(self.heatmap_size, dtype=np.float32)
        self.input_per_heatmap = np.array(
            [self.input_size[0] / self.heatmap_size[0],
             self.input_size[1] / self.heatmap_size[1]], dtype=np.float32)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'heatmap_size={self.heatmap_size}, sigma={self.sigma}, '
                f'blur_kernel_size={self.blur_kernel_size}, unbiased={self.unbiased})')

    # ------------------------------------------------------------------ encode
    def keypoint_weights(self, centres: np.ndarray, keypoints_visible: np.ndarray) -> np.ndarray:
        """Visibility, zeroed where the Gaussian cannot reach the heatmap (mmpose's rule).

        ``centres`` are in heatmap px. Like mmpose's unbiased encoder, a keypoint counts as out
        of reach when ``x - 3s >= W``, ``y - 3s >= H``, ``x + 3s + 1 < 0`` or ``y + 3s + 1 < 0``.
        Non-finite coordinates and visibility below 0.5 (unlabelled) also give 0.
        """
        keep = self._kept(centres, keypoints_visible)
        return np.where(keep, keypoints_visible, np.float32(0)).astype(np.float32, copy=False)

    def _kept(self, centres: np.ndarray, keypoints_visible: np.ndarray) -> np.ndarray:
        """Where :meth:`keypoint_weights` is not 0 (bool, the shape of ``keypoints_visible``)."""
        radius = 3.0 * self.sigma
        # the same float comparisons, on x and y at once: NaN compares False (not kept; numpy 2's
        # comparisons raise no floating-point warning for it), and an infinite coordinate fails
        # one of the two bounds. x and y are combined by indexing, not ``.all(axis=-1)`` (a
        # reduction costs more than the comparisons here)
        inside = (centres - radius < self._size) & (centres + radius + 1 >= 0)
        return inside[..., 0] & inside[..., 1] & (keypoints_visible >= 0.5)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Keypoints (input px) -> ``dict(heatmaps (K, H, W) float32, keypoint_weights)``.

        ``keypoints`` is ``(K, 2)`` or ``(N, K, 2)`` (several instances share one heatmap per
        keypoint, combined by maximum as mmpose does); ``keypoint_weights`` has the shape of
        ``keypoints_visible`` (``(K,)`` or ``(N, K)``). The Gaussian peaks at exactly 1 at
        ``keypoint * heatmap_size / input_size`` and is not truncated.
        """
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.ndim not in (2, 3) or keypoints.shape[-1] < 2:
            raise ValueError(f'keypoints must be (K, 2) or (N, K, 2), got {keypoints.shape}')
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:-1], dtype=np.float32)
        keypoints_visible = np.asarray(keypoints_visible, dtype=np.float32)
        if keypoints_visible.shape != keypoints.shape[:-1]:
            keypoints_visible = keypoints_visible.reshape(keypoints.shape[:-1])
        centres = (keypoints if keypoints.shape[-1] == 2 else keypoints[..., :2]
                   ) * self.heatmap_per_input
        mask = self._kept(centres, keypoints_visible)
        weights = np.where(mask, keypoints_visible, _ZERO)

        # (.., K, 2, 1) centres against the shared grid: both 1-D Gaussians of every keypoint
        # in one exp, the same float32 values as one per axis. A dropped keypoint (unlabelled,
        # unreachable, non-finite) is centred at +inf: exp(-inf) makes both of its Gaussians,
        # and so its channel, exactly +0 (what zeroing one of them gave) without a mask pass.
        # In place: one temporary for the whole chain (the same float32 operations)
        gauss = self._grid - np.where(mask[..., None], centres, _INF)[..., None]
        np.square(gauss, out=gauss)
        gauss *= self._inv_two_var
        np.exp(gauss, out=gauss)
        gx = gauss[..., 0, :self.heatmap_size[0]]
        gy = gauss[..., 1, :self.heatmap_size[1]]
        # the (K, H, W) outer products: torch's broadcast multiply is ~3x numpy's here (the
        # same float32 products); the result is handed on as a numpy view of the tensor
        heatmaps = torch.from_numpy(gy[..., :, None]) * torch.from_numpy(gx[..., None, :])
        if heatmaps.ndim == 4:
            heatmaps = heatmaps.amax(dim=0)
        return dict(heatmaps=heatmaps.numpy(), keypoint_weights=weights)

    # ------------------------------------------------------------------ decode (numpy)
    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps ``(..., K, H, W)`` -> keypoints ``(..., K, 2)`` input px, scores ``(..., K)``.

        Scores are the heatmap maxima; a heatmap with a non-positive maximum decodes to -1
        (heatmap px, scaled like every other location) without refinement.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        *lead, H, W = heatmaps.shape
        flat = heatmaps.reshape(-1, H * W)
        idx = flat.argmax(axis=1)
        scores = np.take_along_axis(flat, idx[:, None], axis=1)[:, 0]
        x = idx % W
        y = idx // W
        maps = flat.reshape(-1, H, W)
        if self.unbiased:
            offset = self._dark_offset_np(maps, x, y)
        else:
            offset = self._quarter_offset_np(maps, x, y)
        locs = np.stack([x, y], axis=1).astype(np.float32) + offset
        locs[scores <= 0] = -1
        keypoints = locs * self.input_per_heatmap
        return keypoints.reshape(*lead, 2), scores.reshape(lead)

    def _dark_offset_np(self, maps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n, H, W = maps.shape
        xc = np.clip(x, 1, W - 2)
        yc = np.clip(y, 1, H - 2)
        half = self._window_half()
        steps = np.arange(-half, half + 1)
        rows = yc[:, None, None] + steps[None, :, None]
        cols = xc[:, None, None] + steps[None, None, :]
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        window = maps[np.arange(n)[:, None, None], np.clip(rows, 0, H - 1),
                      np.clip(cols, 0, W - 1)]
        window = np.where(inside, window, np.float32(0))  # zero padding, as mmpose's blur
        patch = window[:, half - 1:half + 2, half - 1:half + 2]
        if self._blur is not None:
            kernel = self._blur
            ks = kernel.size
            blurred = np.lib.stride_tricks.sliding_window_view(window, ks, axis=1) @ kernel
            blurred = np.lib.stride_tricks.sliding_window_view(blurred, ks, axis=2) @ kernel
            use_blur = self._blur_is_exact(xc, yc, W, H)
            patch = np.where(use_blur[:, None, None], blurred, patch)
        patch = np.log(np.maximum(patch, np.float32(_LOG_FLOOR)))
        ox, oy = _newton_offset(patch, np)
        ox = np.clip(ox + (xc - x), -1.0, 1.0)
        oy = np.clip(oy + (yc - y), -1.0, 1.0)
        offset = np.stack([ox, oy], axis=1).astype(np.float32)
        return np.where(np.isfinite(offset), offset, np.float32(0))

    def _window_half(self) -> int:
        """Half-size of the neighbourhood the refinement reads: 3x3 stencil (+ blur radius)."""
        return 1 + (self._blur.size // 2 if self._blur is not None else 0)

    def _blur_is_exact(self, xc, yc, W: int, H: int):
        """Where the blurred 3x3 stencil reads no zero padding (the blur is trusted there).

        Zero padding stands in for the Gaussian's clipped tail and pulls a blurred peak
        inwards by up to ~1.7 heatmap px near the border; there the raw heatmap is refined
        instead (mmpose refines nothing within 2 px of the border).
        """
        r = self._blur.size // 2
        return (xc > r) & (xc < W - 1 - r) & (yc > r) & (yc < H - 1 - r)

    @staticmethod
    def _quarter_offset_np(maps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Classic refinement: a quarter pixel towards the higher neighbour (mmpose default)."""
        n, H, W = maps.shape
        i = np.arange(n)
        xl, xr = np.clip(x - 1, 0, W - 1), np.clip(x + 1, 0, W - 1)
        yu, yd = np.clip(y - 1, 0, H - 1), np.clip(y + 1, 0, H - 1)
        dx = np.where((x > 0) & (x < W - 1), maps[i, y, xr] - maps[i, y, xl], 0)
        dy = np.where((y > 0) & (y < H - 1), maps[i, yd, x] - maps[i, yu, x], 0)
        return 0.25 * np.stack([np.sign(dx), np.sign(dy)], axis=1).astype(np.float32)

    # ------------------------------------------------------------------ decode (torch)
    def batch_decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`decode` in torch, on the heatmaps' device: (B, K, H, W) -> (B, K, 2), (B, K).

        Vectorised over batch and keypoints (no Python loops); the result is float32 and
        matches :meth:`decode` to float rounding.
        """
        if heatmaps.ndim < 3:
            raise ValueError(f'heatmaps must be (..., H, W), got {tuple(heatmaps.shape)}')
        heatmaps = heatmaps.detach().float()
        *lead, H, W = heatmaps.shape
        flat = heatmaps.reshape(-1, H * W)
        scores, idx = flat.max(dim=1)
        x = idx % W
        y = torch.div(idx, W, rounding_mode='floor')
        maps = flat.reshape(-1, H, W)
        if self.unbiased:
            offset = self._dark_offset_torch(maps, x, y)
        else:
            offset = self._quarter_offset_torch(maps, x, y)
        locs = torch.stack([x, y], dim=1).float() + offset
        locs[scores <= 0] = -1
        keypoints = locs * torch.as_tensor(self.input_per_heatmap, device=locs.device)
        return keypoints.reshape(*lead, 2), scores.reshape(lead)

    def _dark_offset_torch(self, maps: torch.Tensor, x: torch.Tensor,
                           y: torch.Tensor) -> torch.Tensor:
        n, H, W = maps.shape
        xc = x.clamp(1, W - 2)
        yc = y.clamp(1, H - 2)
        half = self._window_half()
        steps = torch.arange(-half, half + 1, device=maps.device)
        rows = yc[:, None, None] + steps[None, :, None]
        cols = xc[:, None, None] + steps[None, None, :]
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        index = (rows.clamp(0, H - 1) * W + cols.clamp(0, W - 1)).reshape(n, -1)
        window = maps.reshape(n, H * W).gather(1, index).reshape(n, 2 * half + 1, -1)
        window = torch.where(inside, window, window.new_zeros(()))
        patch = window[:, half - 1:half + 2, half - 1:half + 2]
        if self._blur is not None:
            kernel = torch.as_tensor(self._blur, device=maps.device)
            ks = kernel.numel()
            blurred = window.unfold(1, ks, 1) @ kernel
            blurred = blurred.unfold(2, ks, 1) @ kernel
            use_blur = self._blur_is_exact(xc, yc, W, H)
            patch = torch.where(use_blur[:, None, None], blurred, patch)
        patch = patch.clamp_min(_LOG_FLOOR).log()
        ox, oy = _newton_offset(patch, torch)
        ox = (ox + (xc - x)).clamp(-1.0, 1.0)
        oy = (oy + (yc - y)).clamp(-1.0, 1.0)
        offset = torch.stack([ox, oy], dim=1).float()
        return torch.where(torch.isfinite(offset), offset, offset.new_zeros(()))

    @staticmethod
    def _quarter_offset_torch(maps: torch.Tensor, x: torch.Tensor,
                              y: torch.Tensor) -> torch.Tensor:
        n, H, W = maps.shape
        i = torch.arange(n, device=maps.device)
        xl, xr = (x - 1).clamp(0, W - 1), (x + 1).clamp(0, W - 1)
        yu, yd = (y - 1).clamp(0, H - 1), (y + 1).clamp(0, H - 1)
        zero = maps.new_zeros(())
        dx = torch.where((x > 0) & (x < W - 1), maps[i, y, xr] - maps[i, y, xl], zero)
        dy = torch.where((y > 0) & (y < H - 1), maps[i, yd, x] - maps[i, yu, x], zero)
        return 0.25 * torch.stack([torch.sign(dx), torch.sign(dy)], dim=1)


def _newton_offset(patch, xp):
    """One Newton step on a log-heatmap ``patch`` (n, 3, 3) from its centre: ``-H^-1 g``.

    Central differences on the 3x3 neighbourhood (exact for a quadratic, i.e. for the log of a
    Gaussian). Where the Hessian is not negative definite (not a maximum) the step is 0.
    ``xp`` is ``numpy`` or ``torch``: both decoders run these very operations.
    """
    centre, left, right = patch[:, 1, 1], patch[:, 1, 0], patch[:, 1, 2]
    up, down = patch[:, 0, 1], patch[:, 2, 1]
    dx = 0.5 * (right - left)
    dy = 0.5 * (down - up)
    dxx = right - 2 * centre + left
    dyy = down - 2 * centre + up
    dxy = 0.25 * (patch[:, 2, 2] - patch[:, 0, 2] - patch[:, 2, 0] + patch[:, 0, 0])
    det = dxx * dyy - dxy * dxy
    maximum = (dxx < 0) & (det > 0)
    safe_det = xp.where(maximum, det, xp.ones_like(det))
    ox = -(dyy * dx - dxy * dy) / safe_det
    oy = -(dxx * dy - dxy * dx) / safe_det
    zero = xp.zeros_like(ox)
    return xp.where(maximum, ox, zero), xp.where(maximum, oy, zero)
