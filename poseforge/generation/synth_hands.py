"""Generate the synthetic multi-view hand dataset (MVHM-style spin-match generation): the run.

The work of one unit (a hand's sequence rendered from every view and written) is
:mod:`poseforge.generation.unit`; this module runs the units and makes a dataset of them: the
worker pool, the train/test split, the shards, resuming, the manifest and the merged
annotation files, and ``DIR/gallery.png`` showing a few samples.

Determinism: each unit's output depends only on the seed, the settings and its targets
(:mod:`~poseforge.generation.unit`), so the dataset is identical for a seed whatever the number
of workers or the order units finish. Units (not views or frames) are split into train and
test, so no test pose is seen in training from another angle or moment.

Resumability: a worker writes a unit's files atomically and then ``shards/<unit>.json`` with its
records; a run skips the units whose shard exists (after deleting the temporaries of a killed
write) and finally merges all shards, in unit order, into the split jsons. ``generation.json``
records the settings; resuming with different ones is refused. An interrupted run resumed
therefore gives the same bytes as an uninterrupted one.

Dead workers: a worker process that dies (killed for memory, say) would leave a
``multiprocessing.Pool`` waiting forever for its unit. The units run in a
``ProcessPoolExecutor``, which notices the death at once; the units that had not finished are
run again in a new pool, up to :data:`MAX_POOL_RESTARTS` times, after which the run stops with
a :class:`GenerationError` naming them. Finished units are kept either way, so re-running the
same command resumes.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import os.path as osp
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from poseforge.generation import writer
from poseforge.generation.renderer import depth_to_uint16
from poseforge.generation.targets import PoseSource, load_pose_source, plan_units
from poseforge.generation.template import hand_template
from poseforge.generation.unit import (FORMATS, FrameRender, GenerationConfig, GenerationError,
                                       HandSample, UnitSetup, ViewLabel, file_name,
                                       hand_box, joint_visibility, render_frames,
                                       render_sample, sample_rng, setup_unit, view_label,
                                       write_unit)

FORMAT_VERSION = 3   # 3: scene options (realistic look by default)
#: Extra entropy word of the generator that splits samples (distinct from per-sample seeds).
_SPLIT_ENTROPY = 0x5A17
MANIFEST = 'generation.json'
SHARDS = 'shards'
GALLERY = 'gallery.png'
_IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
#: New pools started after worker processes died, before the run gives up.
MAX_POOL_RESTARTS = 2

__all__ = ['FORMATS', 'FrameRender', 'GenerationConfig', 'GenerationError',
           'GenerationSummary', 'HandSample', 'UnitSetup', 'ViewLabel', 'benchmark',
           'dataset_info', 'file_name', 'generate_dataset', 'hand_box', 'joint_visibility',
           'read_shard', 'render_frames', 'render_sample', 'sample_rng', 'setup_unit',
           'shard_path', 'split_samples', 'view_label', 'write_unit']


# --------------------------------------------------------------------------- shards
def shard_path(out_dir: str, unit: int) -> str:
    return osp.join(out_dir, SHARDS, f'{unit:07d}.json')


def read_shard(out_dir: str, unit: int) -> dict | None:
    """A finished unit's shard, or ``None`` when the unit has not finished."""
    try:
        with open(shard_path(out_dir, unit), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def split_samples(num: int, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean (num,) marking test units: a seeded choice of ``round(num * fraction)``.

    At least one unit goes to each split when ``0 < fraction < 1`` and ``num >= 2``.
    """
    n_test = int(round(num * test_fraction))
    if 0 < test_fraction < 1 and num >= 2:
        n_test = min(max(n_test, 1), num - 1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_ENTROPY]))
    is_test = np.zeros(num, dtype=bool)
    is_test[rng.choice(num, size=n_test, replace=False)] = True
    return is_test


# --------------------------------------------------------------------------- workers
def _work(task: tuple) -> tuple[int, int]:
    """Worker entry point: render and write one unit, then its shard (last, atomically)."""
    unit, split, seed, out_dir, cfg, plan, background_files = task
    setup = setup_unit(unit, seed, cfg, plan, background_files)
    shard = write_unit(out_dir, split, setup, render_frames(setup, seed, cfg), cfg)
    writer.write_json(shard_path(out_dir, unit), shard)
    return unit, len(shard['images'])


def _init_worker() -> None:
    cv2.setNumThreads(1)   # one process per core; OpenCV's own threads would oversubscribe


def _run(tasks: list[tuple], workers: int) -> Iterator[tuple[int, int]]:
    """Run ``tasks`` (one per unit), yielding ``(unit, images)`` as units finish."""
    if workers <= 1 or len(tasks) <= 1:
        _init_worker()
        yield from map(_work, tasks)
        return
    hand_template()   # built once here; forked workers inherit it
    pending = {task[0]: task for task in tasks}
    for attempt in range(MAX_POOL_RESTARTS + 1):
        try:
            for unit, count in _run_pool(list(pending.values()), workers):
                del pending[unit]
                yield unit, count
            return
        except BrokenProcessPool:
            out_dir = tasks[0][3]
            # a broken pool's other workers are terminated mid-unit, possibly mid-write: their
            # temporaries go now (the pool is shut down: nothing else writes here), as a new
            # run's start would clear them
            writer.remove_partials(out_dir)
            for unit in [u for u in pending if osp.isfile(shard_path(out_dir, u))]:
                del pending[unit]  # finished, but its result was lost with the pool
            lost = _unit_list(sorted(pending))
            if attempt == MAX_POOL_RESTARTS:
                raise GenerationError(
                    f'worker processes died {attempt + 1} times (killed by the system: out '
                    f'of memory?) while rendering units {lost}; the finished units are kept: '
                    'run the same command again to resume (with fewer --workers if memory '
                    'is short)') from None
            print(f'generate: a worker process died (killed by the system: out of memory?); '
                  f'running units {lost} again in a new pool', file=sys.stderr, flush=True)


def _run_pool(tasks: list[tuple], workers: int) -> Iterator[tuple[int, int]]:
    """One pool over ``tasks``; a dead worker raises ``BrokenProcessPool`` at once (a
    ``multiprocessing.Pool`` would wait for its task forever)."""
    context = multiprocessing.get_context('fork' if 'fork' in
                                          multiprocessing.get_all_start_methods() else None)
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context,
                               initializer=_init_worker)
    try:
        running = {pool.submit(_work, task) for task in tasks}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _unit_list(units: list[int], shown: int = 8) -> str:
    text = ', '.join(map(str, units[:shown]))
    return f'[{text}{", ..." if len(units) > shown else ""}] ({len(units)})'


@dataclass
class GenerationSummary:
    """What :func:`generate_dataset` wrote and how fast."""

    out_dir: str
    ann_files: dict[str, str]
    num_images: dict[str, int]
    seconds: float
    resumed_units: int = 0

    @property
    def images_per_second(self) -> float:
        return sum(self.num_images.values()) / max(self.seconds, 1e-9)


def generate_dataset(out_dir: str, num: int, views: int = 4, seed: int = 0, size: int = 256,
                     workers: int = 1, test_fraction: float = 0.2,
                     cfg: GenerationConfig | None = None, progress: bool = False,
                     source_args: dict | None = None,
                     after_unit: Callable[[int], None] | None = None) -> GenerationSummary:
    """Render ``num`` units x ``views`` views (x frames) into ``out_dir``, resuming if asked.

    ``views`` and ``size`` override ``cfg``. The output depends only on the seed, the config and
    the targets, not on ``workers``, nor on interruptions. ``progress`` shows a tqdm bar counted
    in images; ``after_unit(unit)`` is called as each unit finishes (tests interrupt with it).
    """
    out_dir = str(out_dir)
    if num < 1:
        raise GenerationError(f'need num >= 1 (got {num})')
    if not 0.0 <= test_fraction <= 1.0:
        raise GenerationError(f'test_fraction must lie in [0, 1], got {test_fraction}')
    cfg = replace(cfg or GenerationConfig(), views=views, size=size)
    cfg.check()
    source = load_pose_source(cfg.poses_from, source_args)
    plans = (plan_units(source, num, cfg.sequence_length, seed) if source is not None
             else [None] * num)
    background_files = _background_files(cfg.backgrounds)
    manifest = _manifest(cfg, seed, num, test_fraction, source, source_args, background_files)
    _claim(out_dir, manifest)
    writer.remove_partials(out_dir)

    is_test = split_samples(num, test_fraction, seed)
    done = {u for u in range(num) if osp.isfile(shard_path(out_dir, u))}
    tasks = [(u, 'test' if is_test[u] else 'train', seed, out_dir, cfg, plans[u],
              background_files) for u in range(num) if u not in done]
    per_unit = views * cfg.sequence_length
    start = time.perf_counter()
    for unit, _ in _progress(_run(tasks, workers), num * per_unit, len(done) * per_unit,
                             per_unit, progress):
        if after_unit is not None:
            after_unit(unit)
    shards = [read_shard(out_dir, u) for u in range(num)]
    missing = [u for u, s in enumerate(shards) if s is None]
    if missing:
        raise GenerationError(f"'{out_dir}': units {missing[:5]} have no readable shard")
    ann_files, counts = _merge(out_dir, shards, cfg, seed, num, is_test, test_fraction)
    if cfg.gallery:
        from poseforge.generation.gallery import write_gallery
        write_gallery(out_dir, shards[:4], osp.join(out_dir, GALLERY))
    return GenerationSummary(out_dir, ann_files, counts, time.perf_counter() - start,
                             resumed_units=len(done))


def _background_files(folder: str | None) -> tuple[str, ...]:
    if folder is None:
        return ()
    files = tuple(sorted(osp.join(folder, n) for n in os.listdir(folder)
                         if n.lower().endswith(_IMAGE_EXTS)))
    if not files:
        raise GenerationError(f"--backgrounds '{folder}' holds no images "
                              f"({', '.join(_IMAGE_EXTS)})")
    return files


def _manifest(cfg: GenerationConfig, seed: int, num: int, test_fraction: float,
              source: PoseSource | None, source_args: dict | None,
              background_files: tuple[str, ...]) -> dict:
    return dict(generator=__name__, format_version=FORMAT_VERSION, seed=int(seed), num=int(num),
                test_fraction=float(test_fraction), config=cfg.to_dict(),
                targets=None if source is None else dict(
                    count=len(source.frames), fingerprint=source.fingerprint(),
                    source_args=source_args or {}),
                backgrounds=[osp.basename(f) for f in background_files])


def _claim(out_dir: str, manifest: dict) -> None:
    """Record the settings, or check that an existing run used the same ones."""
    path = osp.join(out_dir, MANIFEST)
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            previous = json.load(f)
        wanted = json.loads(json.dumps(manifest))
        if previous != wanted:
            keys = sorted(k for k in set(previous) | set(wanted)
                          if previous.get(k) != wanted.get(k))
            raise GenerationError(
                f"'{out_dir}' holds a dataset generated with other settings (differs in "
                f"{', '.join(keys)}); use another --out or delete it")
        return
    writer.write_json(path, manifest)


def _merge(out_dir: str, shards: list[dict], cfg: GenerationConfig, seed: int, num: int,
           is_test: np.ndarray, test_fraction: float) -> tuple[dict, dict]:
    """The split jsons from the shards (COCO format), and the images per split."""
    ann_files, counts = {}, {}
    for split in ('train', 'test'):
        chosen = [s for s in shards if s['split'] == split]
        images = [r for s in chosen for r in s['images']]
        annotations = [r for s in chosen for r in s['annotations']]
        counts[split] = len(images)
        if cfg.output_format != 'coco':
            continue
        info = dataset_info(cfg, seed, num, split, len(chosen), test_fraction)
        path = osp.join(out_dir, 'annotations', f'{split}.json')
        ann_files[split] = writer.write_coco(path, images, annotations, info)
    return ann_files, counts


def _progress(items: Iterable, total: int, initial: int, step: int, show: bool) -> Iterator:
    if not show:
        yield from items
        return
    from tqdm import tqdm
    with tqdm(total=total, initial=initial, unit='img', desc='rendering') as bar:
        for item in items:
            yield item
            bar.update(step)


def dataset_info(cfg: GenerationConfig, seed: int, num: int, split: str, num_split: int,
                 test_fraction: float) -> dict:
    """The json ``info`` block: generator, format version, seed and every setting."""
    world = ('per sequence, hand-centred at its first key pose; y up' if cfg.poses_from ==
             'random' else 'the target poses\' frame (spin-matched hands live in it)')
    return dict(description='poseforge synthetic multi-view hands (MVHM spin match)',
                generator=__name__, format_version=FORMAT_VERSION, seed=int(seed),
                split=split, num_samples_total=int(num), num_samples=num_split,
                test_fraction=float(test_fraction), config=cfg.to_dict(),
                units='mm', keypoint_convention='pixel centres at integer coordinates',
                file_name_root=f'images/{split}/', depth_root=f'depth/{split}/',
                mask_root=f'masks/{split}/', world_frame=world)


def benchmark(num: int = 20, views: int = 4, size: int = 256, seed: int = 0,
              cfg: GenerationConfig | None = None) -> float:
    """Rendered views per second on this process: spin match, skinning, RGB + depth + mask
    rendering and encoding (JPEG and two PNGs) to memory, nothing written."""
    cfg = replace(cfg or GenerationConfig(), views=views, size=size)
    _init_worker()
    hand_template()
    start = time.perf_counter()
    count = 0
    for unit in range(num):
        setup = setup_unit(unit, seed, cfg)
        for frame in render_frames(setup, seed, cfg):
            for render in frame.renders:
                cv2.imencode('.jpg', render.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY,
                                                             cfg.jpeg_quality])
                cv2.imencode('.png', depth_to_uint16(render.depth),
                             [cv2.IMWRITE_PNG_COMPRESSION, 1])
                cv2.imencode('.png', render.mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                count += 1
    return count / (time.perf_counter() - start)
