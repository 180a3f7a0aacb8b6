"""Target poses for the spin match (``--poses-from``) and how sequences draw on them.

Sources:

* ``random``: the anatomical pose prior (:mod:`pose_prior`), nothing to load.
* ``json:PATH``: a list of objects ``{"keypoints_3d": [[x, y, z] x 21]}`` (mm, hand21 order, any
  frame), optionally with ``"hand_side"`` (``right``/``left``, default right),
  ``"sequence_id"`` and ``"frame_id"`` (entries with sequence ids are frames of sequences, in
  ``frame_id`` order) and ``"vertices"`` (a target mesh's vertices in the same frame, used to
  resolve bone twists).
* ``stb:ROOT``, ``rhd:ROOT``, ``mhp:ROOT``: the 3D labels read by poseforge's own loaders
  (``StbDataset``, ``RhdDataset``, ``MhpDataset``, built through ``DATASETS``), one target per
  labelled hand. Camera-frame joints are taken to the world frame, ``R^T (X - t)``, when the
  loader gives ``R`` and ``t`` (MHP), and the views of one frame are counted once
  (same ``sequence_id`` and ``frame_id``). Extra loader arguments come from ``source_args``
  (CLI ``--source-args JSON``); a ``wrist`` root is asked for when the loader has such an option
  (the template's root is the wrist).

Sequences (:func:`plan_units`): sources that are sequences (STB, MHP, json with sequence ids) give
windows of ``L`` consecutive frames within one sequence, spread evenly over all windows; the others
give ``L = 1`` samples spread evenly over the list, or, for ``L > 1``, a few key targets per
sequence (consecutive entries of a seeded shuffle) that :mod:`sequences` interpolates.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Hashable

import numpy as np

from poseforge.generation.sequences import KEY_SPACING, key_positions
from poseforge.generation.spin_match import check_target

#: ``--poses-from`` prefixes backed by a loader: (module, registered class, default side).
LOADER_SOURCES = {'stb': ('stb', 'StbDataset', 'left'), 'rhd': ('rhd', 'RhdDataset', 'right'),
                  'mhp': ('mhp', 'MhpDataset', 'right')}
#: Constructor arguments a loader may name its root option by; set to ``'wrist'``.
_ROOT_OPTIONS = ('root', 'root_joint', 'root_mode', 'root_type', 'wrist_from')


class PoseSourceError(ValueError):
    """A ``--poses-from`` source is missing, unreadable or malformed."""


@dataclass(frozen=True)
class TargetFrame:
    """One target hand: joints (21, 3) mm, its side, where it comes from, an optional mesh."""

    joints: np.ndarray
    hand_side: str = 'right'
    sequence: Hashable = None
    frame: int = 0
    vertices: np.ndarray | None = None


@dataclass(frozen=True)
class PoseSource:
    """Loaded targets; ``sequential`` when consecutive frames of a sequence belong together."""

    spec: str
    frames: list[TargetFrame]
    sequential: bool
    skipped: int = 0

    def fingerprint(self) -> str:
        """A digest of every target (recorded so a resumed run cannot mix two sources)."""
        import hashlib
        digest = hashlib.sha256()
        for frame in self.frames:
            digest.update(np.ascontiguousarray(frame.joints, dtype=np.float64).tobytes())
            digest.update(frame.hand_side.encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class UnitPlan:
    """The targets of one generated sequence.

    ``frames`` holds one target per frame (followed), or the key targets at ``keys`` (frame
    indices) to interpolate between.
    """

    frames: list[TargetFrame]
    keys: np.ndarray | None = None
    hand_side: str = 'right'
    source_ids: list = field(default_factory=list)


def load_pose_source(spec: str, source_args: dict | None = None) -> PoseSource | None:
    """The targets named by ``spec`` (``None`` for ``random``)."""
    if spec == 'random':
        return None
    kind, sep, location = spec.partition(':')
    if not sep or not location:
        raise PoseSourceError(f"--poses-from '{spec}': expected random, json:PATH, stb:ROOT, "
                              'rhd:ROOT or mhp:ROOT')
    if kind == 'json':
        return _json_source(spec, location)
    if kind in LOADER_SOURCES:
        return _loader_source(spec, kind, location, source_args or {})
    raise PoseSourceError(f"--poses-from '{spec}': unknown source '{kind}' (random, json, "
                          f"{', '.join(LOADER_SOURCES)})")


def _json_source(spec: str, path: str) -> PoseSource:
    if not osp.isfile(path):
        raise PoseSourceError(f"--poses-from {spec}: file '{path}' not found")
    try:
        with open(path, encoding='utf-8') as f:
            records = json.load(f)
    except json.JSONDecodeError as err:
        raise PoseSourceError(f"'{path}': not valid json ({err})") from None
    if not isinstance(records, list) or not records:
        raise PoseSourceError(f"'{path}': expected a non-empty list of objects with "
                              "'keypoints_3d'")
    frames = []
    for i, record in enumerate(records):
        where = f"'{path}' entry #{i}"
        if not isinstance(record, dict) or 'keypoints_3d' not in record:
            raise PoseSourceError(f"{where}: needs 'keypoints_3d' (21 x [x, y, z], mm)")
        try:
            joints = np.asarray(record['keypoints_3d'], dtype=np.float64)
            joints = check_target(joints.reshape(-1, 3) if joints.size == 63 else joints, where)
        except (TypeError, ValueError) as err:
            raise PoseSourceError(str(err)) from None
        side = record.get('hand_side', 'right')
        if side not in ('right', 'left'):
            raise PoseSourceError(f"{where}: hand_side must be 'right' or 'left', got {side!r}")
        vertices = record.get('vertices')
        if vertices is not None:
            vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        frames.append(TargetFrame(joints, side, record.get('sequence_id'),
                                  int(record.get('frame_id', i)), vertices))
    sequential = any(f.sequence is not None for f in frames)
    return PoseSource(spec, _in_sequence_order(frames) if sequential else frames, sequential)


def _loader_source(spec: str, kind: str, root: str, source_args: dict) -> PoseSource:
    module, class_name, default_side = LOADER_SOURCES[kind]
    if not osp.exists(root):
        raise PoseSourceError(f"--poses-from {spec}: '{root}' does not exist")
    try:
        importlib.import_module(f'poseforge.datasets.{module}')
    except ModuleNotFoundError as err:
        if err.name != f'poseforge.datasets.{module}':
            raise
        raise PoseSourceError(
            f"--poses-from {spec}: the {class_name} loader (poseforge/datasets/{module}.py) is "
            'not in this checkout, so its labels cannot be read; use json:PATH meanwhile') from None
    from poseforge.registry import DATASETS
    cls = DATASETS.get(class_name)
    if cls is None:
        raise PoseSourceError(f'--poses-from {spec}: {class_name} is not registered')
    cfg: dict[str, Any] = dict(type=class_name, data_root=root, test_mode=True, pipeline=[])
    params = inspect.signature(cls.__init__).parameters
    for name in _ROOT_OPTIONS:
        if name in params and name not in source_args:
            cfg[name] = 'wrist'
            break
    cfg.update(source_args)
    try:
        dataset = DATASETS.build(cfg)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PoseSourceError(
            f'--poses-from {spec}: {class_name} could not read it: {err}') from None
    frames, seen, skipped = [], set(), 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        key = (info.get('sequence_id'), info.get('frame_id'))
        if key[1] is not None and key in seen:
            continue                      # another view of a frame already taken
        seen.add(key)
        if info.get('keypoints_3d') is None:
            skipped += 1
            continue
        joints = np.asarray(info['keypoints_3d'], dtype=np.float64)
        if info.get('R') is not None and info.get('t') is not None:
            joints = (joints - np.asarray(info['t'], dtype=np.float64).reshape(3)) @ np.asarray(
                info['R'], dtype=np.float64)
        try:
            joints = check_target(joints, f"{spec} sample {i} ('{info.get('img_path')}')")
        except ValueError:
            skipped += 1
            continue
        side = info.get('hand_side') or default_side
        frames.append(TargetFrame(joints, side, info.get('sequence_id'),
                                  int(info.get('frame_id') or 0)))
    if not frames:
        raise PoseSourceError(f'--poses-from {spec}: no usable 3D hand labels found')
    sequential = kind in ('stb', 'mhp') and any(f.sequence is not None for f in frames)
    return PoseSource(spec, _in_sequence_order(frames) if sequential else frames, sequential,
                      skipped)


def _in_sequence_order(frames: list[TargetFrame]) -> list[TargetFrame]:
    order = sorted(range(len(frames)), key=lambda i: (str(frames[i].sequence), frames[i].frame))
    return [frames[i] for i in order]


# --------------------------------------------------------------------------- planning
def plan_units(source: PoseSource, num: int, length: int, seed: int,
               spacing: int = KEY_SPACING) -> list[UnitPlan]:
    """The targets of each of ``num`` sequences of ``length`` frames (module docstring)."""
    if source.sequential:
        return _windows(source, num, length)
    frames = source.frames
    if length == 1:
        picks = _spread(len(frames), num)
        return [UnitPlan([frames[i]], None, frames[i].hand_side, [i]) for i in picks]
    keys = key_positions(length, spacing)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A26E7]))
    order = rng.permutation(len(frames))
    plans = []
    for u in range(num):
        start = u * len(keys)
        picks = [int(order[(start + k) % len(order)]) for k in range(len(keys))]
        side = frames[picks[0]].hand_side
        picks = [p for p in picks if frames[p].hand_side == side] or picks[:1]
        while len(picks) < len(keys):
            picks.append(picks[-1])
        plans.append(UnitPlan([frames[p] for p in picks], keys, side, picks))
    return plans


def _spread(count: int, num: int) -> list[int]:
    """``num`` indices spread evenly over ``count`` items (cycling when ``num > count``)."""
    if num <= count:
        return [int(i * count // num) for i in range(num)]
    return [i % count for i in range(num)]


def _windows(source: PoseSource, num: int, length: int) -> list[UnitPlan]:
    frames = source.frames
    starts = []
    i = 0
    while i < len(frames):
        j = i
        while j + 1 < len(frames) and frames[j + 1].sequence == frames[i].sequence:
            j += 1
        starts += list(range(i, j - length + 2))     # windows inside frames[i..j]
        i = j + 1
    if not starts:
        longest = max(_run_lengths(frames))
        raise PoseSourceError(f'{source.spec}: no sequence has {length} frames (the longest has '
                              f'{longest}); lower --sequence-length')
    picks = [starts[i] for i in _spread(len(starts), num)]
    return [UnitPlan(frames[s:s + length], None, frames[s].hand_side,
                     list(range(s, s + length))) for s in picks]


def _run_lengths(frames: list[TargetFrame]) -> list[int]:
    runs, count = [], 1
    for a, b in zip(frames, frames[1:]):
        if b.sequence == a.sequence:
            count += 1
        else:
            runs.append(count)
            count = 1
    return runs + [count]


__all__ = ['LOADER_SOURCES', 'PoseSource', 'PoseSourceError', 'TargetFrame', 'UnitPlan',
           'load_pose_source', 'plan_units']
