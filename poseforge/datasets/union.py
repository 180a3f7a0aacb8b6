"""``UnionKeypointDataset``: instances of several datasets in one union keypoint layout.

A model that predicts several layouts at once (a knowledge-amalgamation student taught by a
COCO body teacher and a OneHand10K hand teacher) trains on images of all of them and is scored
per layout. This dataset reads each source with its own loader (any registered keypoint
dataset: :class:`~poseforge.datasets.coco.CocoDataset`, OneHand10K, ...) and writes every
instance in the union layout (a :func:`~poseforge.skeletons.union_skeleton`, e.g.
``coco17+hand21``): the source's keypoints go to their union indices, every other keypoint is
``(0, 0)`` with visibility 0. So a COCO person carries 17 body joints and 21 absent hand joints,
a OneHand10K hand the reverse; ``GenerateTarget`` gives the absent ones weight 0, and
:class:`~poseforge.distillers.amalgamation.TaskPCKAccuracy` scores each part on the instances
that have it. The flip pairs are the union's (body left/right swapped, hand joints kept), so
``RandomFlip`` and flip testing work unchanged. The idea is mmpose's ``CombinedDataset`` with a
``KeypointConverter`` per source, written as one dataset so seeding per sample, skipping of
unreadable images and the metainfo stay those of :class:`~poseforge.datasets.base.
BaseKeypointDataset`.

Where each source goes (``mappings``): by default the union part whose skeleton is the
source's (``coco17`` -> ``body``, ``hand21`` -> ``hand``), after checking that the source's
keypoint names are the part's (a palm-rooted STB hand is not a wrist-rooted one); or an
explicit list, one union index per source keypoint (-1: leave that keypoint out).

Each instance keeps its source's fields; ``id`` is renumbered (unique over the union),
``img_id`` too (one per source image), and ``source`` (index into ``metainfo['sources']``),
``source_id``, ``source_img_id`` keep the originals. 3D keypoints are dropped (the union is 2D).
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np
from mmengine.logging import print_log

from poseforge.datasets.base import BaseKeypointDataset, DatasetError
from poseforge.registry import DATASETS
from poseforge.skeletons import get_skeleton
from poseforge.utils.config import ConfigError

__all__ = ['UnionKeypointDataset', 'part_mapping']

#: per-keypoint fields a union cannot carry (2D union layouts only)
DROPPED_KEYS = ('keypoints_3d', 'keypoints_3d_world')


def part_mapping(union: str, source_skeleton: str, source_names: Sequence[str]) -> list[int]:
    """Union index of each source keypoint: the union part whose skeleton is the source's.

    Raises :class:`ConfigError` when no part or several parts have that skeleton, or when the
    source's keypoint names are not the part's (pass an explicit mapping then)."""
    parts = get_skeleton(union).extra.get('parts', {})
    matches = [(prefix, start, stop) for prefix, (name, start, stop) in parts.items()
               if name == source_skeleton]
    if len(matches) != 1:
        found = 'no part' if not matches else f'parts {[m[0] for m in matches]}'
        raise ConfigError(f"the union layout '{union}' has {found} of skeleton "
                          f"'{source_skeleton}' (parts: { {p: v[0] for p, v in parts.items()} }); "
                          'give this source an explicit mapping')
    prefix, start, stop = matches[0]
    expected = [name[len(prefix) + 1:] for name in
                get_skeleton(union).keypoint_names[start:stop]]
    if list(source_names) != expected:
        raise ConfigError(f"the source's keypoints {list(source_names)} are not part "
                          f"'{prefix}' of '{union}' ({expected}); give an explicit mapping")
    return list(range(start, stop))


@DATASETS.register_module()
class UnionKeypointDataset(BaseKeypointDataset):
    """Several keypoint datasets in one union layout (module docstring).

    Args:
        datasets: the sources' dataset configs (any registered keypoint dataset, without a
            pipeline: the union's pipeline runs on every instance). Each is read in the
            union's ``test_mode``.
        skeleton: the union layout (a name from :mod:`poseforge.skeletons`).
        mappings: per source, ``None`` (its part of the union, by skeleton) or one union index
            per source keypoint (-1: left out).
        repeats: per source, how many times its instances are listed (balances a small source
            against a large one; 1 each by default).
        **kwargs: the rest of mmengine ``BaseDataset``'s arguments (pipeline, test_mode,
            indices, ...).
    """

    SKELETON = 'coco17+hand21'

    def __init__(self, datasets: Sequence[dict], skeleton: str = SKELETON,
                 mappings: Sequence[Sequence[int] | None] | None = None,
                 repeats: Sequence[int] | None = None, **kwargs: Any) -> None:
        if not datasets:
            raise ConfigError(f'{type(self).__name__}: datasets is empty')
        self.source_cfgs = [copy.deepcopy(dict(cfg)) for cfg in datasets]
        count = len(self.source_cfgs)
        self.mappings = list(mappings) if mappings is not None else [None] * count
        self.repeats = [int(r) for r in repeats] if repeats is not None else [1] * count
        if len(self.mappings) != count or len(self.repeats) != count:
            raise ConfigError(f'{type(self).__name__}: {count} datasets but '
                              f'{len(self.mappings)} mappings and {len(self.repeats)} repeats')
        if any(r < 1 for r in self.repeats):
            raise ConfigError(f'{type(self).__name__}: repeats must be >= 1, got {self.repeats}')
        self.union = get_skeleton(skeleton)
        for i, cfg in enumerate(self.source_cfgs):
            if cfg.get('pipeline'):
                raise ConfigError(f"{type(self).__name__}: source {i} ({cfg.get('type')}) has "
                                  'its own pipeline; give the pipeline to the union dataset')
            if cfg.get('bbox_file'):
                raise ConfigError(
                    f"{type(self).__name__}: source {i} ({cfg.get('type')}) reads detections "
                    f"('{cfg['bbox_file']}'), which carry no keypoints to score per part; "
                    "use ground-truth boxes (bbox_file='')")
        metainfo = self.union.metainfo()
        metainfo['parts'] = {prefix: [start, stop] for prefix, (_, start, stop)
                             in self.union.extra.get('parts', {}).items()}
        metainfo['sources'] = [str(cfg.get('type')) for cfg in self.source_cfgs]
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(metainfo=metainfo, **kwargs)

    # ------------------------------------------------------------------ loading
    def build_source(self, index: int) -> BaseKeypointDataset:
        """Source ``index`` read in the union's test mode, unserialised, without a pipeline."""
        cfg = dict(self.source_cfgs[index], pipeline=[], test_mode=self.test_mode,
                   serialize_data=False, lazy_init=False)
        return DATASETS.build(cfg)

    def source_mapping(self, index: int, source: BaseKeypointDataset) -> np.ndarray:
        """Union index of each of the source's keypoints (-1: left out), checked."""
        meta = source.metainfo
        num = int(meta['num_keypoints'])
        name = f'{type(self).__name__}: source {index} ({type(source).__name__})'
        mapping = self.mappings[index]
        if mapping is None:
            try:
                mapping = part_mapping(self.union.name, str(meta.get('skeleton')),
                                       meta['keypoint_names'])
            except ConfigError as err:
                raise ConfigError(f'{name}: {err}') from None
        mapping = np.asarray([int(i) for i in mapping], dtype=np.int64)
        if mapping.size != num:
            raise ConfigError(f'{name} has {num} keypoints but its mapping lists '
                              f'{mapping.size}')
        kept = mapping[mapping >= 0]
        if (mapping < -1).any() or (kept >= self.union.num_keypoints).any():
            raise ConfigError(f"{name}: mapping {mapping.tolist()} names indices outside "
                              f"-1..{self.union.num_keypoints - 1} of '{self.union.name}'")
        if np.unique(kept).size != kept.size:
            raise ConfigError(f'{name}: mapping {mapping.tolist()} sends two keypoints to '
                              'one union keypoint')
        return mapping

    def load_data_list(self) -> list[dict]:
        entries: list[dict] = []
        image_ids: dict[tuple[int, Any], int] = {}
        summary = []
        for index in range(len(self.source_cfgs)):
            source = self.build_source(index)
            mapping = self.source_mapping(index, source)
            instances = source.data_list  # unserialised: the loader's own entries
            keypoints, visible = to_union(instances, mapping, self.union.num_keypoints)
            converted = []
            for info, kpt, vis in zip(instances, keypoints, visible):
                item = {k: v for k, v in info.items() if k not in DROPPED_KEYS
                        and k not in ('flip_indices', 'sample_idx')}
                key = (index, info['img_id'])
                item.update(keypoints=kpt, keypoints_visible=vis, source=index,
                            source_id=info['id'], source_img_id=info['img_id'],
                            img_id=image_ids.setdefault(key, len(image_ids)))
                converted.append(item)
            for _ in range(self.repeats[index]):
                entries += [dict(item) for item in converted]
            kept = mapping[mapping >= 0]
            summary.append(f'{len(converted)} {type(source).__name__} instances'
                           + (f' x{self.repeats[index]}' if self.repeats[index] > 1 else '')
                           + f' -> keypoints {kept.min()}-{kept.max()}')
        for new_id, item in enumerate(entries):
            item['id'] = new_id
        if not entries:
            raise DatasetError(f'{type(self).__name__}: no instance in any source')
        print_log(f"{type(self).__name__} ('{self.union.name}'): " + ', '.join(summary),
                  logger='current')
        return entries


def to_union(instances: Sequence[dict], mapping: np.ndarray, num_keypoints: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, 2)`` keypoints and ``(N, K)`` visibility in the union layout: each source
    keypoint ``j`` at ``mapping[j]`` (dropped where -1), the rest ``(0, 0)``, invisible."""
    count = len(instances)
    keypoints = np.zeros((count, num_keypoints, 2), dtype=np.float32)
    visible = np.zeros((count, num_keypoints), dtype=np.float32)
    if count:
        kept = mapping >= 0
        src_kpt = np.stack([np.asarray(i['keypoints'], dtype=np.float32) for i in instances])
        src_vis = np.stack([np.asarray(i['keypoints_visible'], dtype=np.float32)
                            for i in instances])
        keypoints[:, mapping[kept]] = src_kpt[:, kept]
        visible[:, mapping[kept]] = src_vis[:, kept]
    return keypoints, visible
