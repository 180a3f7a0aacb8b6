"""The image pool of pix2pix / CycleGAN (Shrivastava et al. 2017): the discriminator learns
from a history of generated images, not only the latest ones.

Behaviour (pix2pix's ``ImagePool``, kept): while the pool holds fewer than ``capacity`` images,
each new image is stored and returned as it is; once full, each new image is, with probability
1/2, swapped for a randomly chosen stored one (the stored one is returned and the new one takes
its place), and otherwise returned as it is.

Unlike the original (a Python list), the pool is a module with two buffers, ``images`` and
``num_images``, so it is part of the model's state dict: a checkpoint carries its contents and
fill level, and ``--resume`` continues with the same history. With ``image_shape`` the buffer is
allocated at its full size up front (``capacity`` x C x H x W, what DGGAN does), so every
checkpoint of the model has the same keys and shapes and strict loading accepts it; without,
it takes its shape from the first batch and is resized to whatever a checkpoint holds. Randomness
comes from torch's global generator (seeded by the runner).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ['ImagePool']


class ImagePool(nn.Module):
    """History of generated images for the discriminator.

    Args:
        capacity: images kept (pix2pix: 50); 0 disables the pool (``query`` returns its input).
        swap_prob: probability that a new image replaces a stored one once the pool is full.
        image_shape: ``(C, H, W)`` of the images, to allocate the buffer now (module docstring).
    """

    def __init__(self, capacity: int = 50, swap_prob: float = 0.5,
                 image_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        if capacity < 0:
            raise ValueError(f'ImagePool: capacity must be >= 0, got {capacity}')
        self.capacity = int(capacity)
        self.swap_prob = float(swap_prob)
        images = (torch.zeros(0) if image_shape is None or capacity == 0
                  else torch.zeros((capacity, *image_shape)))
        self.register_buffer('images', images)
        self.register_buffer('num_images', torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.num_images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """``(B, C, H, W)`` new images -> ``(B, C, H, W)`` for the discriminator (detached)."""
        images = images.detach()
        if self.capacity == 0:
            return images
        if self.images.shape[1:] != images.shape[1:]:
            if int(self.num_images) > 0 or self.images.numel() > 0:
                raise ValueError(f'ImagePool: images of shape {tuple(images.shape[1:])} do not '
                                 f'match the pool\'s {tuple(self.images.shape[1:])}')
            self.images = images.new_zeros((self.capacity, *images.shape[1:]))
        images = images.to(self.images.dtype)
        out = images.clone()
        draws = torch.rand(len(images), device='cpu')
        slots = torch.randint(0, self.capacity, (len(images),), device='cpu')
        for i in range(len(images)):  # one decision per image, as pix2pix
            filled = int(self.num_images)
            if filled < self.capacity:
                self.images[filled] = images[i]
                self.num_images += 1
            elif draws[i] < self.swap_prob:
                slot = int(slots[i])
                out[i] = self.images[slot]
                self.images[slot] = images[i]
        return out

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        saved = state_dict.get(prefix + 'images')
        if saved is not None and saved.shape != self.images.shape:
            self.images = self.images.new_zeros(saved.shape)  # take the checkpoint's shape
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
