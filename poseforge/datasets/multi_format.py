"""Shared pieces of the 2D hand loaders (OneHand10K, RHD, CMU Panoptic).

:class:`MultiFormatHandDataset` reads mmpose's COCO-style json through
:class:`~poseforge.datasets.coco_style.CocoStyleDataset` or a dataset's original release format
(chosen by ``format=`` or the file extension); :func:`keypoint_bbox` and :func:`log_dropped` are
the box rule and the drop count they share.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import DatasetError
from poseforge.datasets.coco_style import CocoStyleDataset

__all__ = ['MultiFormatHandDataset', 'keypoint_bbox', 'log_dropped']


def keypoint_bbox(keypoints: np.ndarray, visible: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Tight box of the visible keypoints, scaled by ``scale`` about its centre.

    Args:
        keypoints: ``(N, K, 2)`` pixels.
        visible: ``(N, K)``, non-zero where the keypoint counts.
        scale: size multiplier (1 = the tight box).

    Returns:
        ``(N, 4)`` float64 ``x1, y1, x2, y2``; a row with no visible keypoint is all NaN.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    mask = np.asarray(visible).astype(bool)[..., None]
    with np.errstate(invalid='ignore'):
        low = np.where(mask, keypoints, np.inf).min(axis=1)
        high = np.where(mask, keypoints, -np.inf).max(axis=1)
    empty = ~mask[..., 0].any(axis=1)
    low[empty] = np.nan
    high[empty] = np.nan
    centre, half = (low + high) / 2, (high - low) * (scale / 2)
    return np.concatenate([centre - half, centre + half], axis=1)


class MultiFormatHandDataset(CocoStyleDataset):
    """A :class:`CocoStyleDataset` that also reads a dataset's original release format.

    mmpose's COCO-style json goes through :class:`CocoStyleDataset`; any other format through
    :meth:`load_original`. Subclasses set ``FORMATS`` (``'auto'`` first, then ``'json'`` and
    the original formats), ``EXTENSIONS`` (file extension -> format, for ``'auto'``) and
    ``LAYOUT`` (the release layout, quoted when files are missing), and may resolve a folder
    given as ``ann_file`` in :meth:`annotation_in_folder`.

    Args:
        ann_file: annotation file or folder (joined to ``data_root``).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``. Left out: the dataset root for the json (mmpose's
            ``file_name`` is relative to it), a format-specific folder otherwise.
        format: one of ``FORMATS``.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    FORMATS: tuple[str, ...] = ('auto', 'json')
    EXTENSIONS: dict[str, str] = {'.json': 'json'}
    LAYOUT: str = ''

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 format: str = 'auto', **kwargs: Any) -> None:
        if format not in self.FORMATS:
            raise ValueError(f'{type(self).__name__}: format must be one of {self.FORMATS}, '
                             f'got {format!r}')
        self.format = format
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=dict(data_prefix or {}), **kwargs)

    # ------------------------------------------------------------------ format
    def resolve_format(self) -> str:
        """The format to read; a folder ``ann_file`` goes through :meth:`annotation_in_folder`."""
        if osp.isdir(self.ann_file):
            self.ann_file = self.annotation_in_folder(self.ann_file)
        if self.format != 'auto':
            return self.format
        ext = osp.splitext(self.ann_file)[1].lower()
        if ext in self.EXTENSIONS:
            return self.EXTENSIONS[ext]
        choices = ', '.join(f"'{f}'" for f in self.FORMATS[1:])
        raise DatasetError(f"{type(self).__name__}: cannot tell the format of "
                           f"'{self.ann_file}' from its extension; pass format= one of "
                           f'{choices}')

    def annotation_in_folder(self, folder: str) -> str:
        """The annotation file inside ``folder`` (default: a folder is not accepted)."""
        raise DatasetError(f"{type(self).__name__}: '{folder}' is a folder, not an annotation "
                           f'file; expected {self.LAYOUT}')

    def layout_error(self, message: str) -> DatasetError:
        return DatasetError(f'{type(self).__name__}: {message}; expected {self.LAYOUT}')

    def image_folder(self, default: str) -> str:
        """``data_prefix['img']`` or ``default``; a missing folder names the expected layout."""
        folder = self.data_prefix.get('img', default)
        if folder and not osp.isdir(folder):
            raise self.layout_error(f"image folder '{folder}' not found (annotations "
                                    f"'{self.ann_file}'; or pass data_prefix=dict(img=...))")
        return folder

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        fmt = self.resolve_format()
        if fmt == 'json':
            self.data_prefix.setdefault('img', self.data_root or '')
            entries = super().load_data_list()
        else:
            entries = self.load_original(fmt)
        if not entries:  # mmengine cannot even serialise an empty list; say why instead
            raise DatasetError(f"{type(self).__name__}: no instances in '{self.ann_file}' "
                               f'(format {fmt!r}; the log counts any left out)')
        return entries

    def load_original(self, fmt: str) -> list[dict]:
        """Schema entries from the original release format ``fmt``."""
        raise NotImplementedError


def log_dropped(dataset: Any, dropped: int, total: int, reason: str) -> None:
    """One log line counting the instances a loader left out, and why."""
    if dropped:
        print_log(f"{type(dataset).__name__}: dropped {dropped} of {total} instances of "
                  f"'{dataset.ann_file}' ({reason})", logger='current')
