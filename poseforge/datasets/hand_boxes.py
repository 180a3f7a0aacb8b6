"""Hand-box datasets for the hand detector: COCO-style box files and composited generated hands.

One entry per *image* (a detector sees every hand of a picture at once), with

================== ================ =========================================================
key                type / shape     meaning
================== ================ =========================================================
img_path           str              image file (``'<composite N>'`` for generated composites)
img_id             int              image id
gt_boxes           float32 (N, 4)   ``x1, y1, x2, y2`` image px (N may be 0: no hand)
gt_sides           int64 (N,)       1 left, 0 right, -1 unknown
================== ================ =========================================================

:class:`HandBoxDataset` reads COCO-style json in two layouts:

* ``'bbox'``: each annotation's ``bbox`` ``[x, y, w, h]`` is one hand (OneHand10K's and the
  hand datasets' converted files, the generated hands). The side is the annotation's or its
  image's ``hand_side`` (``'left'``/``'right'``) when present, else unknown;
* ``'wholebody'``: COCO-WholeBody person annotations, whose ``lefthand_box`` /
  ``righthand_box`` (``[x, y, w, h]``) count where ``lefthand_valid`` / ``righthand_valid``
  are true; the side is known.

``box_source='auto'`` picks ``'wholebody'`` when an annotation has ``lefthand_box``.

:class:`SynthHandBoxDataset` reads the generator's json and, with ``composite`` set, makes
every sample a new picture: 0-``max_hands`` generated hands cut out with their masks and placed
on a fresh background (:mod:`poseforge.generation.composite`). Training draws the layout from
``np.random`` (seeded per run and worker by mmengine); test mode draws it from a generator
seeded by ``(seed, index)``, so the generated test split is the same pictures every time.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from poseforge.codecs.center_box import side_code
from poseforge.datasets.base import BaseKeypointDataset, DatasetError
from poseforge.generation.composite import Cutout, composite_hands, cut_out_hand
from poseforge.registry import DATASETS

BOX_SOURCES = ('auto', 'bbox', 'wholebody')
_IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def _xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)


@DATASETS.register_module()
class HandBoxDataset(BaseKeypointDataset):
    """Hand boxes from a COCO-style json, one entry per image (module docstring).

    Args:
        ann_file: the json (joined to ``data_root``).
        data_root: dataset root.
        data_prefix: ``dict(img=...)``, the folder ``file_name`` is relative to.
        box_source: ``'auto'``, ``'bbox'`` or ``'wholebody'``.
        keep_empty: keep images without a hand (negatives; in test mode they always count).
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments.
    """

    def __init__(self, ann_file: str = '', data_root: str = '',
                 data_prefix: dict | None = None, box_source: str = 'auto',
                 keep_empty: bool = True, **kwargs: Any) -> None:
        if box_source not in BOX_SOURCES:
            raise ValueError(f"{type(self).__name__}: box_source must be one of {BOX_SOURCES}, "
                             f'got {box_source!r}')
        self.box_source = box_source
        self.keep_empty = keep_empty
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix if data_prefix is not None else dict(img=''),
                         **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: dict | None = None) -> dict:
        meta = dict(classes=('hand',), dataset=cls.__name__)
        meta.update(metainfo or {})
        return meta

    def get_data_info(self, idx: int) -> dict:
        return BaseDataset.get_data_info(self, idx)  # no keypoints: no flip indices

    def error(self, message: str) -> DatasetError:
        return DatasetError(f"{type(self).__name__}: '{self.ann_file}': {message}")

    def _load_box_json(self) -> dict:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise self.error(f'not valid json ({err})') from None
        if not isinstance(data, dict) or not isinstance(data.get('images'), list) \
                or not isinstance(data.get('annotations'), list):
            raise self.error("expected an object with 'images' and 'annotations' lists")
        return data

    def _source(self, annotations: list) -> str:
        if self.box_source != 'auto':
            return self.box_source
        return 'wholebody' if any('lefthand_box' in a for a in annotations[:1000]) else 'bbox'

    def _hands(self, ann: dict, image: dict, source: str, where: str) -> list[tuple]:
        """``[(xywh, side), ...]`` of one annotation."""
        if source == 'wholebody':
            hands = []
            for side, name in ((1, 'lefthand'), (0, 'righthand')):
                if ann.get(f'{name}_valid') and f'{name}_box' in ann:
                    hands.append((ann[f'{name}_box'], side))
            return hands
        if 'bbox' not in ann:
            raise self.error(f"{where}: missing 'bbox'")
        if ann.get('iscrowd', 0):
            return []
        return [(ann['bbox'], side_code(ann.get('hand_side', image.get('hand_side'))))]

    def load_data_list(self) -> list[dict]:
        data = self._load_box_json()
        images: dict[Any, dict] = {}
        for i, image in enumerate(data['images']):
            if not isinstance(image, dict) or 'id' not in image or 'file_name' not in image:
                raise self.error(f'image #{i}: needs an id and a file_name')
            images[image['id']] = dict(image=image, boxes=[], sides=[])
        source = self._source(data['annotations'])
        for i, ann in enumerate(data['annotations']):
            where = f"annotation #{i} (id={ann.get('id') if isinstance(ann, dict) else None})"
            if not isinstance(ann, dict) or ann.get('image_id') not in images:
                raise self.error(f"{where}: not an object, or image_id not in 'images'")
            entry = images[ann['image_id']]
            for box, side in self._hands(ann, entry['image'], source, where):
                box = np.asarray(box, np.float64)
                if box.size != 4 or not np.isfinite(box).all():
                    raise self.error(f'{where}: box must be 4 finite numbers, got {box.tolist()}')
                if box[2] > 1 and box[3] > 1:
                    entry['boxes'].append(box)
                    entry['sides'].append(side)
        out = []
        for image_id, entry in images.items():
            if not entry['boxes'] and not (self.keep_empty or self.test_mode):
                continue
            out.append(self.entry(entry['image'], entry['boxes'], entry['sides']))
        return out

    def entry(self, image: dict, boxes: list, sides: list) -> dict:
        return dict(img_path=osp.join(self.data_prefix.get('img', ''), image['file_name']),
                    img_id=int(image['id']),
                    gt_boxes=_xywh_to_xyxy(np.asarray(boxes, np.float32)),
                    gt_sides=np.asarray(sides, np.int64).reshape(-1))


@DATASETS.register_module()
class SynthHandBoxDataset(HandBoxDataset):
    """Generated hands as detection data, composited on new backgrounds (module docstring).

    Args:
        ann_file: a split's json of ``tools/generate_dataset.py`` (its masks are needed for
            ``composite``: generate without ``--no-depth``).
        data_root: the generator's output directory.
        data_prefix: ``dict(img=..., mask=...)``; default ``images/<split>/``,
            ``masks/<split>/``.
        composite: ``None`` for the generated pictures as they are, else a dict of
            :func:`~poseforge.generation.composite.composite_hands` settings plus
            ``max_hands`` (2), ``hands_p`` (probabilities of 0, 1, 2, ... hands:
            ``(0.05, 0.45, 0.5)``), ``backgrounds`` (a folder of pictures without hands, mixed
            with the procedural ones) and ``seed`` (test-mode layouts).
        **kwargs: :class:`HandBoxDataset`'s.
    """

    def __init__(self, ann_file: str = '', data_root: str = '', data_prefix: dict | None = None,
                 composite: dict | None = None, **kwargs: Any) -> None:
        if data_prefix is None:
            stem = osp.splitext(osp.basename(ann_file))[0]
            data_prefix = dict(img=f'images/{stem}/', mask=f'masks/{stem}/')
        self.composite = None if composite is None else dict(composite)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         box_source='bbox', **kwargs)
        self._backgrounds: list[np.ndarray] | None = None

    def entry(self, image: dict, boxes: list, sides: list) -> dict:
        info = super().entry(image, boxes, sides)
        if 'mask_file' in image and 'mask' in self.data_prefix:
            info['mask_path'] = osp.join(self.data_prefix['mask'], image['mask_file'])
        elif self.composite is not None:
            raise self.error(f"image id {image['id']} has no mask_file: compositing needs the "
                             "generator's masks (generate without --no-depth)")
        return info

    # ------------------------------------------------------------------ compositing
    def _cutout(self, idx: int) -> Cutout | None:
        info = self.get_data_info(idx)
        rgb = cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
        mask = cv2.imread(info['mask_path'], cv2.IMREAD_GRAYSCALE)
        for path, img in ((info['img_path'], rgb), (info['mask_path'], mask)):
            if img is None:
                raise OSError(f"cannot read '{path}'")
        side = int(info['gt_sides'][0]) if len(info['gt_sides']) else -1
        return cut_out_hand(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), mask, side)

    def _background_images(self) -> list[np.ndarray]:
        if self._backgrounds is None:
            folder = self.composite.get('backgrounds')
            self._backgrounds = []
            if folder:
                if not osp.isdir(folder):
                    raise FileNotFoundError(f"{type(self).__name__}: backgrounds folder "
                                            f"'{folder}' does not exist")
                for name in sorted(os.listdir(folder)):
                    if name.lower().endswith(_IMAGE_EXTS):
                        img = cv2.imread(osp.join(folder, name), cv2.IMREAD_COLOR)
                        if img is not None:
                            self._backgrounds.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        return self._backgrounds

    def composite_sample(self, idx: int) -> dict:
        """The picture of sample ``idx``: hand ``idx`` first, others drawn at random."""
        cfg = dict(self.composite)
        seed = cfg.pop('seed', 0)
        max_hands = int(cfg.pop('max_hands', 2))
        hands_p = np.asarray(cfg.pop('hands_p', (0.05, 0.45, 0.5)), np.float64)[:max_hands + 1]
        cfg.pop('backgrounds', None)
        rng = (np.random.default_rng((seed, idx)) if self.test_mode
               else np.random.default_rng(np.random.randint(2 ** 31)))
        count = int(rng.choice(len(hands_p), p=hands_p / hands_p.sum()))
        indices = [idx] + [int(i) for i in rng.integers(len(self), size=max(count - 1, 0))]
        cutouts = [c for c in (self._cutout(i) for i in indices[:count]) if c is not None]
        rgb, boxes, sides = composite_hands(rng, cutouts, backgrounds=self._background_images(),
                                            **cfg)
        h, w = rgb.shape[:2]
        return dict(img=rgb, img_shape=(h, w), ori_shape=(h, w), img_id=idx,
                    img_path=f'<composite {idx}>', gt_boxes=boxes, gt_sides=sides,
                    sample_idx=idx)

    def prepare_data(self, idx: int) -> Any:
        if self.composite is None:
            return super().prepare_data(idx)
        try:
            return self.pipeline(self.composite_sample(idx))
        except (OSError, ValueError) as err:
            if self.test_mode:
                raise
            self.skipped += 1
            from mmengine.logging import print_log
            print_log(f'{type(self).__name__}: skipped composite {idx}: {err} '
                      f'[{self.skipped} skipped so far]', logger='current', level=30)
            return None


__all__ = ['HandBoxDataset', 'SynthHandBoxDataset', 'BOX_SOURCES']
