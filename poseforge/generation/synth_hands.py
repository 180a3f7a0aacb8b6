"""Generate the synthetic multi-view hand dataset (poseforge's built-in default data).

One *sample* is one hand (random shape, pose, skin and light) seen by ``views`` calibrated
cameras on a ring around it; each view is one image with one annotated hand. Everything a
sample needs comes from its own random generator, ``SeedSequence(seed, spawn_key=(sample_id,))``
(the ``sample_id``-th child of ``SeedSequence(seed).spawn``), so the output is identical for a
seed whatever the number of workers or the order in which samples finish.

Samples (not views) are split into train and test, so no test pose is seen in training from
another angle. File layout and json fields: :mod:`poseforge.generation.writer`.
"""
from __future__ import annotations

import multiprocessing
import os.path as osp
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Iterator

import cv2
import numpy as np

from poseforge.generation.cameras import Camera, CameraConfig, project_points, ring_cameras
from poseforge.generation.hand_model import (HAND_PART_MIN, build_hand, joint_radii,
                                             sample_shape)
from poseforge.generation.pose_prior import PriorConfig, sample_pose
from poseforge.generation.renderer import (RenderResult, depth_to_uint16, ensure_contrast,
                                           make_background, render_view, sample_appearance,
                                           vertex_albedo)
from poseforge.generation import writer

FORMAT_VERSION = 1
#: Extra entropy word of the generator that splits samples (distinct from per-sample seeds).
_SPLIT_ENTROPY = 0x5A17


@dataclass(frozen=True)
class GenerationConfig:
    """Everything that changes the generated data (recorded in each json's ``info``).

    Attributes:
        size: image side in pixels (square images).
        views: cameras per sample.
        image_ext: ``'.jpg'`` (small, fast) or ``'.png'`` (lossless).
        jpeg_quality: JPEG quality when ``image_ext`` is ``'.jpg'``.
        left_fraction: share of left hands (mirrored right hands).
        save_depth: also write per-view depth (uint16 PNG, mm) and hand mask PNGs.
        occlusion_tolerance: mm in front of a joint's skin at which a surface occludes it.
        camera, prior: camera placement and pose prior settings.
    """

    size: int = 256
    views: int = 4
    image_ext: str = '.jpg'
    jpeg_quality: int = 95
    left_fraction: float = 0.0
    save_depth: bool = False
    occlusion_tolerance: float = 6.0
    camera: CameraConfig = field(default_factory=CameraConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- one sample
@dataclass
class ViewLabel:
    """Ground truth of one view (all arrays float64 for exact projections)."""

    view_id: int
    camera: Camera
    keypoints_3d: np.ndarray   # (21, 3) mm, camera frame
    keypoints: np.ndarray      # (21, 2) px
    visibility: np.ndarray     # (21,) int: 2 visible, 1 occluded, 0 outside
    bbox_xywh: np.ndarray      # (4,)
    area: float


@dataclass
class HandSample:
    """One rendered sample: the hand's world joints and every view's render and labels."""

    sample_id: int
    hand_side: str
    joints_world: np.ndarray
    labels: list[ViewLabel]
    renders: list[RenderResult]


def sample_rng(seed: int, sample_id: int) -> np.random.Generator:
    """The generator of one sample: child ``sample_id`` of ``SeedSequence(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(sample_id,)))


def render_sample(sample_id: int, seed: int, cfg: GenerationConfig = GenerationConfig()
                  ) -> HandSample:
    """Build, pose and render one hand from every view (pure: writes nothing)."""
    rng = sample_rng(seed, sample_id)
    shape = sample_shape(rng)
    pose = sample_pose(rng, cfg.prior)
    joints, mesh = build_hand(shape, pose.angles, pose.wrist)
    hand_side = 'left' if rng.uniform() < cfg.left_fraction else 'right'
    if hand_side == 'left':
        joints, mesh = joints * np.array([-1.0, 1.0, 1.0]), mesh.mirrored_x()
    appearance = sample_appearance(rng)
    albedo = vertex_albedo(mesh, appearance)

    centre = 0.5 * (joints.min(0) + joints.max(0))
    to_world = -pose.root @ centre
    joints_world = joints @ pose.root.T + to_world
    mesh_world = mesh.transformed(pose.root, to_world)
    radii = joint_radii(shape)
    cameras = ring_cameras(rng, joints_world, radii, cfg.views, cfg.size, cfg.size, cfg.camera)

    labels, renders = [], []
    for view_id, camera in enumerate(cameras):
        background = ensure_contrast(make_background(rng, cfg.size, cfg.size), appearance.skin)
        render = render_view(mesh_world, albedo, camera, appearance, background, rng)
        labels.append(view_label(view_id, camera, joints_world, radii, render, cfg))
        renders.append(render)
    return HandSample(sample_id, hand_side, joints_world, labels, renders)


def view_label(view_id: int, camera: Camera, joints_world: np.ndarray, radii: np.ndarray,
               render: RenderResult, cfg: GenerationConfig) -> ViewLabel:
    """Keypoints, visibility and box of one view, from the camera and the rendered depth."""
    keypoints_3d = camera.to_camera(joints_world)
    keypoints = project_points(camera.K, keypoints_3d)
    visibility = joint_visibility(keypoints, keypoints_3d[:, 2], radii, render.depth,
                                  cfg.occlusion_tolerance)
    bbox, area = hand_box(render.part, keypoints[visibility > 0])
    return ViewLabel(view_id, camera, keypoints_3d, keypoints, visibility, bbox, area)


def joint_visibility(keypoints: np.ndarray, joint_depth: np.ndarray, radii: np.ndarray,
                     depth: np.ndarray, tolerance: float) -> np.ndarray:
    """COCO ``v`` per joint: 0 outside the image, 1 if a surface lies well in front, else 2.

    A joint sits inside its finger, ``radius`` behind the skin that covers it; it counts as
    occluded when the rendered surface at its pixel is more than ``radius + tolerance`` nearer.
    """
    height, width = depth.shape
    cols, rows = np.rint(keypoints[:, 0]).astype(int), np.rint(keypoints[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    vis = np.where(inside, writer.VISIBLE, writer.OUTSIDE).astype(np.int64)
    seen = depth[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
    occluded = inside & (seen > 0) & (seen < joint_depth - radii - tolerance)
    vis[occluded] = writer.OCCLUDED
    return vis


def hand_box(part: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
    """``[x, y, w, h]`` around the hand pixels and the labelled points, and the mask area.

    Pixel ``i`` spans ``[i - 0.5, i + 0.5]`` (centres on integers), so the box of the mask
    extends half a pixel beyond the outermost hand pixels; it is clipped to the image.
    """
    height, width = part.shape
    ys, xs = np.nonzero(part >= HAND_PART_MIN)
    corners = [points] if len(points) else []
    if len(xs):
        corners.append(np.array([[xs.min() - 0.5, ys.min() - 0.5],
                                 [xs.max() + 0.5, ys.max() + 0.5]]))
    if not corners:
        return np.zeros(4), 0.0
    pts = np.concatenate(corners)
    low = np.maximum(pts.min(0), -0.5)
    high = np.minimum(pts.max(0), [width - 0.5, height - 0.5])
    return np.concatenate([low, high - low]), float(len(xs))


# --------------------------------------------------------------------------- files
def file_name(sample_id: int, view_id: int, ext: str) -> str:
    """``<sample:06d>_v<view><ext>``, the name in ``images/<split>/`` (and depth/, masks/)."""
    return f'{sample_id:06d}_v{view_id}{ext}'


def write_sample(out_dir: str, split: str, sample: HandSample, cfg: GenerationConfig
                 ) -> tuple[list[dict], list[dict]]:
    """Write a sample's files; its ``images`` and ``annotations`` json records."""
    images, annotations = [], []
    for label, render in zip(sample.labels, sample.renders):
        image_id = sample.sample_id * cfg.views + label.view_id
        name = file_name(sample.sample_id, label.view_id, cfg.image_ext)
        writer.save_rgb(osp.join(out_dir, 'images', split, name), render.rgb, cfg.jpeg_quality)
        extra = {}
        if cfg.save_depth:
            png = file_name(sample.sample_id, label.view_id, '.png')
            writer.save_png(osp.join(out_dir, 'depth', split, png),
                            depth_to_uint16(render.depth))
            writer.save_png(osp.join(out_dir, 'masks', split, png), render.mask)
            extra = dict(depth_file=png, mask_file=png)
        cam = label.camera
        images.append(writer.image_record(image_id, name, cam.width, cam.height, cam.K, cam.R,
                                          cam.t, label.view_id, sample.sample_id,
                                          sample.hand_side, **extra))
        annotations.append(writer.annotation_record(image_id, label.bbox_xywh, label.area,
                                                    label.keypoints, label.visibility,
                                                    label.keypoints_3d))
    return images, annotations


def split_samples(num: int, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean (num,) marking test samples: a seeded choice of ``round(num * fraction)``.

    At least one sample goes to each split when ``0 < fraction < 1`` and ``num >= 2``.
    """
    n_test = int(round(num * test_fraction))
    if 0 < test_fraction < 1 and num >= 2:
        n_test = min(max(n_test, 1), num - 1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_ENTROPY]))
    is_test = np.zeros(num, dtype=bool)
    is_test[rng.choice(num, size=n_test, replace=False)] = True
    return is_test


def _work(task: tuple) -> tuple[int, str, list[dict], list[dict]]:
    """Worker entry point: render and write one sample."""
    sample_id, split, seed, out_dir, cfg = task
    sample = render_sample(sample_id, seed, cfg)
    images, annotations = write_sample(out_dir, split, sample, cfg)
    return sample_id, split, images, annotations


def _init_worker() -> None:
    cv2.setNumThreads(1)   # one process per core; OpenCV's own threads would oversubscribe


def _run(tasks: list[tuple], workers: int) -> Iterator[tuple]:
    if workers <= 1:
        _init_worker()
        yield from map(_work, tasks)
        return
    with multiprocessing.get_context().Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_work, tasks, chunksize=2)


@dataclass
class GenerationSummary:
    """What :func:`generate_dataset` wrote and how fast."""

    out_dir: str
    ann_files: dict[str, str]
    num_images: dict[str, int]
    seconds: float

    @property
    def images_per_second(self) -> float:
        return sum(self.num_images.values()) / max(self.seconds, 1e-9)


def generate_dataset(out_dir: str, num: int, views: int = 4, seed: int = 0, size: int = 256,
                     workers: int = 1, test_fraction: float = 0.2,
                     cfg: GenerationConfig | None = None, progress: bool = False
                     ) -> GenerationSummary:
    """Render ``num`` samples x ``views`` images into ``out_dir`` (layout: :mod:`writer`).

    ``views`` and ``size`` override ``cfg``. The output depends only on the seed and the
    config, not on ``workers``. ``progress`` shows a tqdm bar counted in images.
    """
    if num < 1 or views < 1 or size < 16:
        raise ValueError(f'need num >= 1, views >= 1 and size >= 16 (got {num}, {views}, {size})')
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f'test_fraction must lie in [0, 1], got {test_fraction}')
    cfg = replace(cfg or GenerationConfig(), views=views, size=size)
    is_test = split_samples(num, test_fraction, seed)
    tasks = [(i, 'test' if is_test[i] else 'train', seed, out_dir, cfg) for i in range(num)]

    start = time.perf_counter()
    records: dict[str, list[tuple]] = {'train': [], 'test': []}
    for sample_id, split, images, annotations in _progress(_run(tasks, workers), num * views,
                                                           views, progress):
        records[split].append((sample_id, images, annotations))
    ann_files, counts = {}, {}
    for split, items in records.items():
        items.sort(key=lambda item: item[0])
        images = [r for _, imgs, _ in items for r in imgs]
        annotations = [r for _, _, anns in items for r in anns]
        info = dataset_info(cfg, seed, num, split, int((is_test if split == 'test'
                                                        else ~is_test).sum()), test_fraction)
        path = osp.join(out_dir, 'annotations', f'{split}.json')
        ann_files[split] = writer.write_coco(path, images, annotations, info)
        counts[split] = len(images)
    return GenerationSummary(out_dir, ann_files, counts, time.perf_counter() - start)


def _progress(items: Iterable, total: int, views: int, show: bool) -> Iterator:
    if not show:
        yield from items
        return
    from tqdm import tqdm
    with tqdm(total=total, unit='img', desc='rendering') as bar:
        for item in items:
            yield item
            bar.update(views)


def dataset_info(cfg: GenerationConfig, seed: int, num: int, split: str, num_split: int,
                 test_fraction: float) -> dict:
    """The json ``info`` block: generator, format version, seed and every setting."""
    return dict(description='poseforge synthetic multi-view hands', generator=__name__,
                format_version=FORMAT_VERSION, seed=int(seed), split=split,
                num_samples_total=int(num), num_samples=num_split,
                test_fraction=float(test_fraction), config=cfg.to_dict(),
                units='mm', keypoint_convention='pixel centres at integer coordinates',
                file_name_root=f'images/{split}/', world_frame='per sample, hand-centred; y up')


def benchmark(num: int = 20, views: int = 4, size: int = 256, seed: int = 0,
              cfg: GenerationConfig | None = None) -> float:
    """Images per second of rendering plus JPEG encoding on this process (nothing written)."""
    cfg = replace(cfg or GenerationConfig(), views=views, size=size)
    _init_worker()
    start = time.perf_counter()
    for i in range(num):
        for render in render_sample(i, seed, cfg).renders:
            cv2.imencode('.jpg', render.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY,
                                                         cfg.jpeg_quality])
    return num * views / (time.perf_counter() - start)
