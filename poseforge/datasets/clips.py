"""Clips of consecutive frames over any sequence dataset, for temporal models (TASSN).

:class:`ClipDataset` wraps a per-instance keypoint dataset whose entries carry ``sequence_id``
and ``frame_id`` (the generated hands, STB, MHP) and returns clips of ``clip_length`` frames:

* **Sequences** are the entries sharing ``sequence_keys`` (``sequence_id`` and ``view_id`` by
  default: one camera's view of one sequence is one video), ordered by ``frame_id``.
* **Clips** start at the sequence's first frame id and every ``stride`` ids after it; a clip
  takes ``clip_length`` frames ``frame_interval`` ids apart. With ``cover_end`` one more clip
  ends exactly at the last frame when the regular ones stop short of it, so evaluation sees
  every frame. A sequence shorter than one clip's span gives no clip.
* **Bad clips**: a clip whose frames are not all present (a frame id missing from the
  annotations) and a sequence too short for one clip are, with ``on_bad='skip'`` (default),
  left out and counted in :attr:`skipped_clips` (``{'missing_frame': n, 'short_sequence':
  n}``, logged once, naming the first of each); ``on_bad='error'`` raises a
  :class:`DatasetError` naming the sequence and the missing frame ids instead. Two entries with
  the same key and frame id are always an error (the dataset's keys do not identify videos).
  An unreadable image while training skips the clip and draws another (counted in
  :attr:`skipped`, as single images are); in test mode it raises.
* **One augmentation per clip**: every frame runs the wrapped dataset's pipeline with the
  global RNGs seeded from the *same* words (the clip's, from :meth:`set_sample_seed` when the
  runner seeds samples, else one draw from numpy), so every random transform draws the same
  values for every frame: the same flip, the same rotation, scale and shift (relative to each
  frame's own box, which is kept), the same photometric change. The pipeline itself is the
  dataset's, unchanged.

A clip is ``dict(inputs=(T, 3, H, W), data_samples={target: (T, ...), 'meta': [T dicts]})``;
every frame's ``meta`` also gets ``clip_index``, ``clip_frame`` (its position t) and
``clip_report``: True on the first clip that holds this frame, so that overlapping evaluation
clips report each frame once. :func:`clip_collate` stacks clips into ``(B, T, ...)`` tensors
and a ``B``-list of ``T``-lists of metas; :func:`reverse_clip` plays a clip (or a batch of
clips) backwards.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Hashable, Sequence

import numpy as np
import torch
import torch.utils.data
from mmengine.logging import print_log

from poseforge.datasets.base import DatasetError, ImageReadError, SampleSeed
from poseforge.registry import DATASETS, FUNCTIONS
from poseforge.utils.seeding import seeded

__all__ = ['ClipDataset', 'clip_collate', 'clip_dataloaders', 'reverse_clip', 'plan_clips']

#: Entropy word that keeps clip seeds apart from the per-sample ones of the wrapped dataset.
_CLIP_STREAM = 0x434C4950
#: Clips that may fail to load in a row before the wrapped dataset's images are called wrong.
_RETRIES = 20


def plan_clips(frame_ids: Sequence[int], clip_length: int, stride: int,
               frame_interval: int = 1, cover_end: bool = True
               ) -> tuple[list[list[int]], list[list[int]], bool]:
    """Clips of one sequence as positions into ``frame_ids`` (sorted, unique).

    Returns ``(clips, bad, short)``: ``clips`` the complete clips (lists of positions), ``bad``
    the frame ids missing from each incomplete clip, ``short`` whether the sequence spans less
    than one clip. Start ids are ``first + k * stride``; with ``cover_end`` one more clip ends
    at the last id when the regular clips stop before it.
    """
    ids = [int(f) for f in frame_ids]
    span = (clip_length - 1) * frame_interval
    if not ids or ids[-1] - ids[0] < span:
        return [], [], True
    where = {f: i for i, f in enumerate(ids)}
    starts = list(range(ids[0], ids[-1] - span + 1, stride))
    if cover_end and starts[-1] + span < ids[-1]:
        starts.append(ids[-1] - span)
    clips, bad = [], []
    for start in starts:
        wanted = [start + t * frame_interval for t in range(clip_length)]
        missing = [f for f in wanted if f not in where]
        if missing:
            bad.append(missing)
        else:
            clips.append([where[f] for f in wanted])
    return clips, bad, False


@DATASETS.register_module()
class ClipDataset(torch.utils.data.Dataset):
    """Clips of ``clip_length`` frames over a sequence dataset (module docstring).

    Args:
        dataset: the per-frame dataset (config or object) with ``sequence_id`` / ``frame_id``
            in its entries and the per-frame pipeline.
        clip_length: T, frames per clip.
        stride: frame ids between the starts of consecutive clips (default ``clip_length``:
            clips that tile the sequence).
        frame_interval: frame ids between consecutive frames of a clip (1: consecutive).
        cover_end: add a last clip ending at the sequence's last frame (module docstring).
        sequence_keys: entry keys that together name a video.
        on_bad: ``'skip'`` (count and leave out bad clips) or ``'error'``.
        test_mode: defaults to the wrapped dataset's.
    """

    def __init__(self, dataset: dict | Any, clip_length: int = 8, stride: int | None = None,
                 frame_interval: int = 1, cover_end: bool = True,
                 sequence_keys: Sequence[str] = ('sequence_id', 'view_id'),
                 on_bad: str = 'skip', test_mode: bool | None = None) -> None:
        if clip_length < 1 or frame_interval < 1 or (stride is not None and stride < 1):
            raise ValueError(f'ClipDataset: clip_length ({clip_length}), stride ({stride}) and '
                             f'frame_interval ({frame_interval}) must be >= 1')
        if on_bad not in ('skip', 'error'):
            raise ValueError(f"ClipDataset: on_bad must be 'skip' or 'error', got {on_bad!r}")
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.clip_length = int(clip_length)
        self.stride = int(stride or clip_length)
        self.frame_interval = int(frame_interval)
        self.cover_end = bool(cover_end)
        self.sequence_keys = tuple(sequence_keys)
        self.on_bad = on_bad
        self.test_mode = (bool(getattr(self.dataset, 'test_mode', False)) if test_mode is None
                          else bool(test_mode))
        self.skipped = 0
        self.skipped_clips: dict[str, int] = {'missing_frame': 0, 'short_sequence': 0}
        self._sample_seed = SampleSeed()
        self.clips, self.sequence_names = self._build_clips()
        if not self.clips:
            raise DatasetError(f'{self._name()}: no complete clip of {self.clip_length} frames '
                               f'(interval {self.frame_interval}) in any sequence '
                               f'({self._skip_summary()})')
        self.report = self._report_flags()
        #: frames a clip model reports over the whole dataset (each once): what a metric must
        #: keep (``ClipValLoop`` / ``ClipTestLoop`` pass it on)
        self.num_reported_frames = sum(sum(flags) for flags in self.report)

    # ------------------------------------------------------------------ index
    def _name(self) -> str:
        ann = getattr(self.dataset, 'ann_file', '') or ''
        return f"ClipDataset({type(self.dataset).__name__}{f' {ann!r}' if ann else ''})"

    def _sequence_key(self, info: dict, idx: int) -> tuple:
        if info.get('sequence_id') is None or info.get('frame_id') is None:
            raise DatasetError(f"{self._name()}: entry {idx} ('{info.get('img_path')}') has no "
                               'sequence_id / frame_id: clips need a sequence dataset (the '
                               'generated hands with --sequence-length > 1, STB, MHP)')
        return tuple(_hashable(info.get(k)) for k in self.sequence_keys)

    def _build_clips(self) -> tuple[list[tuple[int, ...]], list[tuple]]:
        sequences: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
        for idx in range(len(self.dataset)):
            info = self.dataset.get_data_info(idx)
            sequences[self._sequence_key(info, idx)].append((int(info['frame_id']), idx))
        clips: list[tuple[int, ...]] = []
        names: list[tuple] = []
        first_bad: dict[str, str] = {}
        for key in sorted(sequences, key=repr):
            frames = sorted(sequences[key])
            ids = [f for f, _ in frames]
            dup = sorted({f for f in ids if ids.count(f) > 1}) if len(set(ids)) < len(ids) else []
            if dup:
                raise DatasetError(f'{self._name()}: sequence {self._describe(key)} has frame '
                                   f'ids {dup[:5]} more than once; sequence_keys '
                                   f'{self.sequence_keys} do not name one video')
            planned, bad, short = plan_clips(ids, self.clip_length, self.stride,
                                             self.frame_interval, self.cover_end)
            if short:
                self._bad('short_sequence', f'sequence {self._describe(key)} has frames '
                          f'{ids[0] if ids else "-"}..{ids[-1] if ids else "-"}, fewer than '
                          f'one clip of {self.clip_length} (interval {self.frame_interval})',
                          first_bad)
            for missing in bad:
                self._bad('missing_frame', f'sequence {self._describe(key)}: frame ids '
                          f'{missing[:5]} of a clip are missing', first_bad)
            for positions in planned:
                clips.append(tuple(frames[p][1] for p in positions))
                names.append(key)
        if first_bad:
            print_log(f'{self._name()}: skipped {self._skip_summary()}; first: '
                      + '; '.join(first_bad.values()), logger='current', level=30)
        return clips, names

    def _bad(self, kind: str, message: str, first: dict[str, str]) -> None:
        if self.on_bad == 'error':
            raise DatasetError(f'{self._name()}: {message} (on_bad="skip" leaves such clips '
                               'out)')
        self.skipped_clips[kind] += 1
        first.setdefault(kind, message)

    def _describe(self, key: tuple) -> str:
        return ', '.join(f'{k}={v!r}' for k, v in zip(self.sequence_keys, key))

    def _skip_summary(self) -> str:
        return (f"{self.skipped_clips['missing_frame']} clips with a missing frame, "
                f"{self.skipped_clips['short_sequence']} sequences shorter than a clip")

    def _report_flags(self) -> list[tuple[bool, ...]]:
        seen: set[int] = set()
        flags = []
        for clip in self.clips:
            flags.append(tuple(idx not in seen for idx in clip))
            seen.update(clip)
        return flags

    # ------------------------------------------------------------------ mmengine glue
    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(getattr(self.dataset, 'metainfo', {}))

    def set_sample_seed(self, seed: int, epoch: int) -> None:
        """Seed every clip's augmentation from ``(seed, epoch, clip index)`` from now on."""
        self._sample_seed.set(seed, epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def frame_indices(self, idx: int) -> tuple[int, ...]:
        """The wrapped dataset's indices of clip ``idx``'s frames, in time order."""
        return self.clips[idx]

    # ------------------------------------------------------------------ loading
    def _clip_entropy(self, idx: int) -> list[int]:
        entropy = self._sample_seed.entropy(idx)
        if entropy is None:  # unseeded: one fresh draw, shared by the clip's frames
            return [_CLIP_STREAM, int(np.random.randint(0, 2**31 - 1)), int(idx)]
        return [_CLIP_STREAM] + entropy

    def load_clip(self, idx: int) -> dict:
        """Clip ``idx`` packed (module docstring); raises what the pipeline raises."""
        entropy = self._clip_entropy(idx)
        in_worker = torch.utils.data.get_worker_info() is not None
        frames = []
        for t, frame_idx in enumerate(self.clips[idx]):
            info = self.dataset.get_data_info(frame_idx)
            with seeded(entropy, restore=not in_worker):
                data = self.dataset.pipeline(info)
            meta = data['data_samples']['meta']
            meta.update(clip_index=idx, clip_frame=t, clip_report=self.report[idx][t])
            frames.append(data)
        return stack_frames(frames)

    def __getitem__(self, idx: int) -> dict:
        if self.test_mode:
            try:
                return self.load_clip(idx)
            except OSError as err:
                raise ImageReadError(f'{self._name()}: clip {idx}: {err}') from err
        for _ in range(_RETRIES):
            try:
                return self.load_clip(idx)
            except (OSError, ValueError) as err:
                self.skipped += 1
                print_log(f'{self._name()}: skipped clip {idx}: {err} [{self.skipped} skipped '
                          'so far]', logger='current', level=30)
                idx = int(np.random.randint(0, len(self)))
        raise DatasetError(f'{self._name()}: {_RETRIES} clips in a row could not be loaded '
                           '(see the warnings above): check data_root and data_prefix')


def _hashable(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def stack_frames(frames: Sequence[dict]) -> dict:
    """Packed frames (``inputs`` (3, H, W), ``data_samples``) -> one clip (T first)."""
    inputs = torch.stack([f['inputs'] for f in frames])
    data_samples: dict[str, Any] = {}
    for key, value in frames[0]['data_samples'].items():
        values = [f['data_samples'][key] for f in frames]
        data_samples[key] = torch.stack(values) if isinstance(value, torch.Tensor) else values
    return dict(inputs=inputs, data_samples=data_samples)


@FUNCTIONS.register_module()
def clip_collate(samples: Sequence[dict]) -> dict:
    """Clips -> ``inputs`` (B, T, 3, H, W), tensors (B, T, ...), ``meta`` B lists of T dicts."""
    lengths = {s['inputs'].shape[0] for s in samples}
    if len(lengths) != 1:
        raise ValueError(f'clip_collate: clips of different lengths {sorted(lengths)} in one '
                         'batch')
    return stack_frames([dict(inputs=s['inputs'], data_samples=s['data_samples'])
                         for s in samples])


def clip_dataloaders(train_frames: dict, val_frames: dict, train_pipeline: list,
                     test_pipeline: list, clip_length: int = 8, train_stride: int = 4,
                     batch_size: int = 4) -> tuple[dict, dict]:
    """``(train_dataloader, val_dataloader)`` config overrides that read a per-frame dataset as
    clips: the TASSN configs' loader recipe, written once for every dataset they run on.

    ``train_frames`` / ``val_frames`` are the per-frame dataset configs (a dataset base's
    ``train_dataloader.dataset`` / ``val_dataloader.dataset``); each gets its pipeline and is
    wrapped in a :class:`ClipDataset` (``_delete_``: the inherited loader's dataset keys go, its
    workers and sampler stay). Training clips start every ``train_stride`` frames (overlapping
    clips, more of them per video); validation clips tile each sequence (stride
    ``clip_length``; ``cover_end`` adds one that ends on the last frame), so every test frame is
    evaluated once. ``batch_size`` counts clips, collated by :func:`clip_collate` into
    (B, T, ...) batches. The config still sets ``val_cfg = dict(type='ClipValLoop')`` (and the
    test loop): a clip dataset reports frames, not clips.
    """
    def loader(frames: dict, pipeline: list, stride: int) -> dict:
        return dict(batch_size=batch_size, collate_fn=dict(type='poseforge.clip_collate'),
                    dataset=dict(_delete_=True, type='ClipDataset', clip_length=clip_length,
                                 stride=stride, dataset=dict(frames, pipeline=pipeline)))

    return (loader(train_frames, train_pipeline, train_stride),
            loader(val_frames, test_pipeline, clip_length))


def reverse_clip(data: dict, time_dim: int | None = None) -> dict:
    """The clip (``inputs`` (T, ...)) or batch of clips (``inputs`` (B, T, ...)) played
    backwards: every tensor flipped along time and every meta list reversed (``time_dim``
    defaults to 1 for 5-D ``inputs``, else 0). The result shares no tensor memory with the
    input; metas are the same dict objects in reverse order."""
    inputs = data['inputs']
    if time_dim is None:
        time_dim = 1 if inputs.dim() == 5 else 0
    out: dict[str, Any] = dict(inputs=inputs.flip(time_dim))
    samples = data.get('data_samples')
    if samples is not None:
        reversed_samples: dict[str, Any] = {}
        for key, value in samples.items():
            if isinstance(value, torch.Tensor):
                reversed_samples[key] = value.flip(time_dim)
            elif time_dim == 0:
                reversed_samples[key] = list(value)[::-1]
            else:
                reversed_samples[key] = [list(v)[::-1] for v in value]
        out['data_samples'] = reversed_samples
    for key, value in data.items():
        out.setdefault(key, value)
    return out
