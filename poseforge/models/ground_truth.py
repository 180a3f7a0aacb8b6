"""Ground-truth keypoint coordinates of a training batch, for heads and backbones that need
more than the Gaussian targets (NSRM's limb masks, R-MGMN's kernel targets, hand angle and
teacher forcing).

One source for all of them: ``data_samples['meta'][i]['transformed_keypoints']`` (input px,
packed by :class:`~poseforge.datasets.transforms.PackPoseInputs` by default) and
``meta['keypoints_visible']``. Exact everywhere, also for joints outside the crop, which the
keypoint codec drops from its targets; nothing is decoded back from target heatmaps, and no
codec is built inside a model.

Input px ``p`` lies at heatmap coordinate ``p * heatmap_size / input_size`` (the convention of
:class:`~poseforge.codecs.MSRAHeatmap`: cell centres at integer coordinates).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

#: The ``meta`` keys :func:`batch_keypoints` reads.
REQUIRED_META_KEYS = ('transformed_keypoints', 'input_size')


def _metas(data_samples: Mapping | None, batch_size: int | None, who: str) -> list[Mapping]:
    metas = list((data_samples or {}).get('meta') or [])
    missing = [key for key in REQUIRED_META_KEYS if metas and not all(key in m for m in metas)]
    if not metas or missing or (batch_size is not None and len(metas) != batch_size):
        have = 'no meta' if not metas else (f"meta without {', '.join(missing)}" if missing
                                            else f'{len(metas)} metas for {batch_size} samples')
        raise ValueError(
            f'{who} needs the ground-truth keypoints of every sample: data_samples["meta"][i] '
            f"with 'transformed_keypoints' (input px) and 'input_size' (PackPoseInputs packs "
            f'both by default; keep them in meta_keys), got {have}')
    return metas


def batch_keypoints(data_samples: Mapping | None, size: Sequence[int] | None = None,
                    device: torch.device | str | None = None, batch_size: int | None = None,
                    who: str = 'this model') -> tuple[Tensor, Tensor]:
    """Keypoints ``(B, K, 2)`` float32 and visibility ``(B, K)`` bool of a batch.

    Args:
        data_samples: the batch as the estimator passes it (``meta`` is read).
        size: ``(W, H)`` of a heatmap grid: keypoints are returned in its cells; ``None`` =
            input px.
        device: where the tensors go.
        batch_size: expected number of samples (checked).
        who: named in the error when the batch lacks the keypoints.
    Returns:
        keypoints and visibility (``keypoints_visible >= 0.5`` and finite coordinates; all
        visible when ``meta`` has no ``keypoints_visible``).
    """
    metas = _metas(data_samples, batch_size, who)
    keypoints = np.stack([np.asarray(m['transformed_keypoints'], dtype=np.float32).reshape(-1, 2)
                          for m in metas])
    if size is not None:
        input_sizes = np.stack([np.asarray(m['input_size'], dtype=np.float32).reshape(2)
                                for m in metas])
        keypoints = keypoints * (np.asarray(size, dtype=np.float32)[None] / input_sizes)[:, None]
    num_keypoints = keypoints.shape[1]
    visible = np.stack([np.asarray(m.get('keypoints_visible', np.ones(num_keypoints)),
                                   dtype=np.float32).reshape(-1) >= 0.5 for m in metas])
    visible &= np.isfinite(keypoints).all(axis=-1)
    return torch.from_numpy(keypoints).to(device), torch.from_numpy(visible).to(device)
