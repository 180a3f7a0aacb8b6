"""Loader for the generated synthetic hands (``tools/generate_dataset.py``).

Reads one split's COCO-style json (format: :mod:`poseforge.generation.writer`) and returns one
schema entry (:mod:`poseforge.datasets.base`) per annotated hand, with the calibration of its
view (``K``, ``R``, ``t``), the camera-frame ``keypoints_3d`` in mm and the ids that tie views of
one sample together (``view_id``, ``sample_id``).
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
        data_prefix: ``dict(img=...)``, the folder that ``file_name`` is relative to. Left out,
            it is ``images/<split>/`` with ``<split>`` the ann file's stem (the generator's
            layout).
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode, ...).
    """

    SKELETON = 'hand21'

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 **kwargs: Any) -> None:
        if data_prefix is None:
            stem = osp.splitext(osp.basename(ann_file))[0]
            data_prefix = dict(img=f'images/{stem}/')
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         **kwargs)

    def keep_instance(self, entry: dict, ann: dict) -> bool:
        return True  # every generated hand is fully labelled

    def image_extras(self, image: dict, fail: Fail) -> dict:
        extra: dict[str, Any] = {}
        for key, shape in (('K', (3, 3)), ('R', (3, 3)), ('t', (3,))):
            if key in image:
                extra[key] = as_array(image[key], shape, key, fail)
        for key in ('view_id', 'sample_id', 'hand_side'):
            if key in image:
                extra[key] = image[key]
        return extra

    def annotation_extras(self, ann: dict, image: dict, fail: Fail) -> dict:
        if 'keypoints_3d' not in ann:
            return {}
        return dict(keypoints_3d=as_array(ann['keypoints_3d'], (len(ann['keypoints']) // 3, 3),
                                          'keypoints_3d', fail))


__all__ = ['SynthHandDataset']
