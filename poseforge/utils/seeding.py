"""The global random number generators (Python ``random``, numpy, torch): read, restore, seed.

Low level on purpose (numpy and torch only): datasets seed each sample with it and the engine
seeds each epoch with it (:mod:`poseforge.engine.reproducibility` explains the scheme).
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch


def rng_state() -> dict:
    """The global RNG states (Python, numpy, torch CPU and, where in use, CUDA), in types that
    load under ``weights_only=True`` (tuples of ints, a numpy array, byte tensors)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state['numpy']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def seed_everything(entropy: Sequence[int], devices: bool = True) -> None:
    """Seed Python, numpy and torch from one ``numpy.random.SeedSequence(entropy)``.

    ``devices=False`` seeds torch's CPU generator only (``torch.manual_seed`` also seeds every
    accelerator, which costs ~100x more: too much per sample)."""
    words = np.random.SeedSequence([int(e) for e in entropy]).generate_state(4, np.uint32)
    random.seed(int(words[0]))
    np.random.seed(words[1:3])
    if devices:
        torch.manual_seed(int(words[3]))
    else:
        torch.default_generator.manual_seed(int(words[3]))


@contextmanager
def seeded(entropy: Sequence[int] | None, restore: bool = True) -> Iterator[None]:
    """Run the body with the global RNGs seeded from ``entropy`` (no-op for ``None``).

    ``restore`` puts the previous states back afterwards, so that the body consumes none of
    the caller's randomness (the numpy state copy is the costly part: skip it where nothing
    else draws, as in a dataloader worker)."""
    if entropy is None:
        yield
        return
    saved = (random.getstate(), np.random.get_state(), torch.default_generator.get_state()
             ) if restore else None
    seed_everything(entropy, devices=False)
    try:
        yield
    finally:
        if saved is not None:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.default_generator.set_state(saved[2])
