"""Loader for the generated synthetic hands (``tools/generate_dataset.py``).

Reads one split's COCO-style json (format: :mod:`poseforge.generation.writer`) and returns one
schema entry (:mod:`poseforge.datasets.base`) per annotated hand, with the calibration of its
view (``K``, ``R``, ``t``), the camera-frame ``keypoints_3d`` in mm and the ids that tie views of
one sample together (``view_id``, ``sample_id``), and, from format version 2, the sequence's
``sequence_id`` / ``frame_id``, the camera's ``dist`` (distorting rigs), the world-frame
``keypoints_3d_world`` and the paths of the view's depth map and hand mask (``depth_path``,
``mask_path``: 16-bit PNG in mm, 8-bit PNG 255 = hand).
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from poseforge.datasets.coco_style import CocoStyleDataset, Fail, as_array
from poseforge.registry import DATASETS


@DATASETS.register_module()
class SynthHandDataset(CocoStyleDataset):
    """Generated multi-view hands, 21 keypoints (``hand21``), one instance per image.

    Args:
        ann_file: a split's json, e.g. ``annotations/train.json`` (joined to ``data_root``).
        data_root: the generator's output directory.
        data_prefix: ``dict(img=..., depth=..., mask=...)``, the folders that ``file_name``,
            ``depth_file`` and ``mask_file`` are relative to. Left out, they are
            ``images/<split>/``, ``depth/<split>/`` and ``masks/<split>/`` with ``<split>`` the
            ann file's stem (the generator's layout); given with ``img`` only, ``depth`` and
            ``mask`` are its ``images`` folder's siblings.
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 **kwargs: Any) -> None:
        if data_prefix is None:
            stem = osp.splitext(osp.basename(ann_file))[0]
            data_prefix = dict(img=f'images/{stem}/')
        data_prefix = dict(data_prefix)
        for key, folder in (('depth', 'depth'), ('mask', 'masks')):
            sibling = _sibling(data_prefix.get('img', ''), folder)
            if key not in data_prefix and sibling is not None:
                data_prefix[key] = sibling
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def keep_instance(self, entry: dict, ann: dict) -> bool:
        return True  # every generated hand is fully labelled

    def image_extras(self, image: dict, fail: Fail) -> dict:
        extra: dict[str, Any] = {}
        for key, shape in (('K', (3, 3)), ('R', (3, 3)), ('t', (3,))):
            if key in image:
                extra[key] = as_array(image[key], shape, key, fail)
        if 'dist' in image:
            extra['dist'] = as_array(image['dist'], (5,), 'dist', fail)
        for key in ('view_id', 'sample_id', 'hand_side', 'sequence_id', 'frame_id'):
            if key in image:
                extra[key] = image[key]
        for key, prefix in (('depth_file', 'depth'), ('mask_file', 'mask')):
            if key in image and prefix in self.data_prefix:
                extra[f'{prefix}_path'] = osp.join(self.data_prefix[prefix], image[key])
        return extra

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        num = len(ann['keypoints']) // 3
        return {key: as_array(ann[key], (num, 3), key, fail)
                for key in ('keypoints_3d', 'keypoints_3d_world') if key in ann}


def _sibling(img_prefix: str, folder: str) -> str | None:
    """``images/<split>/`` -> ``<folder>/<split>/`` (``None`` for any other layout)."""
    parts = img_prefix.rstrip('/').split('/')
    if len(parts) >= 2 and parts[-2] == 'images':
        return '/'.join(parts[:-2] + [folder, parts[-1]]) + '/'
    return None


__all__ = ['SynthHandDataset']
