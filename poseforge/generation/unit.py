"""One unit of the synthetic hand dataset: build a hand, spin-match it to its target poses,
render every view of every frame, and write the files (the work of one worker task).

One *unit* is one sequence of ``sequence_length`` frames (1 by default: a single sample) of one
hand (random shape, skin and light), seen by ``views`` calibrated cameras of a rig that stays
fixed for the sequence. Per frame the template hand (:mod:`template`) is spin-matched
(:mod:`spin_match`) to a target pose: sampled from the anatomical prior (``random``), or read
from ``json:PATH`` / STB / RHD / MHP labels (:mod:`targets`); sequences follow consecutive target
frames or interpolate between key poses (:mod:`sequences`). Each view gets RGB, depth (mm,
16-bit PNG), hand mask, 2D keypoints with visibility from the depth test, box, 3D keypoints in
camera and world frames and the calibration (:mod:`writer` for COCO json, :mod:`mhp_writer` for
MHP's own layout).

Determinism: everything a unit needs comes from its own generator,
``SeedSequence(seed, spawn_key=(unit,))`` (per frame ``(unit, frame + 1)`` for sensor noise), so
a unit's bytes depend on the seed, the settings and its targets only. The run around the units
(pool, splits, shards, resume, manifest) is :mod:`poseforge.generation.synth_hands`.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Iterator

import cv2
import numpy as np

from poseforge.generation import mhp_writer, writer
from poseforge.generation.cameras import Camera, CameraConfig
from poseforge.generation.hand_model import HAND_PART_MIN, sample_shape
from poseforge.generation.pose_prior import PriorConfig, sample_wrist
from poseforge.generation.renderer import (RenderResult, depth_to_uint16, ensure_contrast,
                                           make_background, render_view, sample_appearance,
                                           vertex_albedo)
from poseforge.generation.rigs import RIGS, make_rig, rig_image_size
from poseforge.generation.sequences import interpolate, key_positions, random_key_targets
from poseforge.generation.skinning import SkeletonPose, skin
from poseforge.generation.spin_match import spin_match
from poseforge.generation.targets import UnitPlan
from poseforge.generation.template import HandTemplate, hand_template, shape_scales

FORMATS = ('coco', 'mhp')


class GenerationError(ValueError):
    """Bad settings, or an output directory that holds a different dataset."""


@dataclass(frozen=True)
class GenerationConfig:
    """Everything that changes the generated data (recorded in ``generation.json``).

    Attributes:
        size: image side in pixels (square images; the ``mhp`` rig is 640 x 480).
        views: cameras per sequence.
        image_ext: ``'.jpg'`` (small, fast) or ``'.png'`` (lossless).
        jpeg_quality: JPEG quality when ``image_ext`` is ``'.jpg'``.
        left_fraction: share of left hands (mirrored right hands) for random poses.
        save_depth: also write per-view depth (uint16 PNG, mm) and hand mask PNGs.
        occlusion_tolerance: mm in front of a joint's skin at which a surface occludes it.
        sequence_length: frames per unit.
        rig: ``ring``, ``sphere`` or ``mhp`` (:mod:`rigs`).
        match_lengths: scale the template's bones to the targets' (joints equal the targets).
        output_format: ``coco`` (json per split) or ``mhp`` (MHP's layout, :mod:`mhp_writer`).
        poses_from: target poses (:mod:`targets`): ``random``, ``json:PATH``, ``stb:ROOT``, ...
        backgrounds: folder of background images (else procedural backgrounds).
        gallery: write ``gallery.png``.
        camera, prior: camera placement and pose prior settings.
    """

    size: int = 256
    views: int = 4
    image_ext: str = '.jpg'
    jpeg_quality: int = 95
    left_fraction: float = 0.0
    save_depth: bool = True
    occlusion_tolerance: float = 6.0
    sequence_length: int = 1
    rig: str = 'ring'
    match_lengths: bool = False
    output_format: str = 'coco'
    poses_from: str = 'random'
    backgrounds: str | None = None
    gallery: bool = True
    camera: CameraConfig = field(default_factory=CameraConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        if self.rig not in RIGS:
            raise GenerationError(f"unknown rig '{self.rig}'; choose one of {', '.join(RIGS)}")
        if self.output_format not in FORMATS:
            raise GenerationError(f"unknown format '{self.output_format}'; choose one of "
                                  f"{', '.join(FORMATS)}")
        if self.sequence_length < 1 or self.views < 1 or self.size < 16:
            raise GenerationError('need sequence_length >= 1, views >= 1 and size >= 16')
        if self.output_format == 'mhp' and self.image_ext != '.jpg':
            raise GenerationError("MHP's layout stores JPEG webcam frames; drop --png")
        if self.backgrounds is not None and not osp.isdir(self.backgrounds):
            raise GenerationError(f"--backgrounds '{self.backgrounds}' is not a folder")


# --------------------------------------------------------------------------- one unit
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
class FrameRender:
    """One frame of a unit: its pose, world joints and every view's render and labels."""

    frame_id: int
    pose: SkeletonPose
    joints_world: np.ndarray
    labels: list[ViewLabel]
    renders: list[RenderResult]


@dataclass
class HandSample:
    """One rendered sample (a unit's first frame): world joints, views' renders and labels."""

    sample_id: int
    hand_side: str
    joints_world: np.ndarray
    labels: list[ViewLabel]
    renders: list[RenderResult]


def sample_rng(seed: int, sample_id: int) -> np.random.Generator:
    """The generator of one unit: child ``sample_id`` of ``SeedSequence(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(sample_id,)))


def _frame_rng(seed: int, unit: int, frame: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(unit, frame + 1)))


@dataclass
class UnitSetup:
    """What a unit fixes before its frames are rendered."""

    unit: int
    hand_side: str
    poses: list[SkeletonPose]
    cameras: list[Camera]
    backgrounds: list[np.ndarray]
    albedo: np.ndarray
    appearance: object
    radii: np.ndarray


def setup_unit(unit: int, seed: int, cfg: GenerationConfig, plan: UnitPlan | None = None,
               background_files: tuple[str, ...] = ()) -> UnitSetup:
    """Hand shape, appearance, the poses of every frame (spin-matched), cameras, backgrounds."""
    rng = sample_rng(seed, unit)
    template = hand_template()
    shape = sample_shape(rng)
    lengths, radial = shape_scales(template, shape)
    appearance = sample_appearance(rng)
    length = cfg.sequence_length
    if plan is None:
        side = 'left' if rng.uniform() < cfg.left_fraction else 'right'
        positions = key_positions(length)
        keys = random_key_targets(rng, shape, len(positions), cfg.prior, side == 'left')
        key_poses = [spin_match(template, joints, hand_side=side, match_lengths=True,
                                radial=radial, wrist_angles=tuple(wrist)).pose
                     for joints, wrist in keys]
        poses = interpolate(template, key_poses, positions, length)
    else:
        side = plan.hand_side
        wrist = tuple(sample_wrist(rng))
        matched = [spin_match(template, target.joints, hand_side=target.hand_side,
                              lengths=lengths, match_lengths=cfg.match_lengths, radial=radial,
                              target_vertices=target.vertices, wrist_angles=wrist).pose
                   for target in plan.frames]
        poses = matched if plan.keys is None else interpolate(template, matched, plan.keys,
                                                               length)
    radii = template.joint_radii * radial
    all_joints = np.concatenate([p.world_joints() for p in poses])
    cameras = make_rig(cfg.rig, rng, all_joints, np.tile(radii, len(poses)), cfg.views,
                       cfg.size, cfg.camera)
    width, height = rig_image_size(cfg.rig, cfg.size)
    backgrounds = [ensure_contrast(_background(rng, width, height, background_files),
                                   appearance.skin) for _ in cameras]
    albedo = vertex_albedo(skin(template, poses[0]), appearance)
    return UnitSetup(unit, side, poses, cameras, backgrounds, albedo, appearance, radii)


def _background(rng: np.random.Generator, width: int, height: int,
                files: tuple[str, ...]) -> np.ndarray:
    """A procedural background, or a random crop of one of ``files`` (float RGB in [0, 1])."""
    if not files:
        return make_background(rng, width, height)
    path = files[int(rng.integers(len(files)))]
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise GenerationError(f"background image '{path}' cannot be read")
    h, w = image.shape[:2]
    scale = rng.uniform(0.5, 1.0)
    cw, ch = max(int(w * scale), 2), max(int(h * scale), 2)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], (width, height),
                      interpolation=cv2.INTER_AREA)
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    return crop[..., ::-1].astype(np.float32) / 255.0


def render_frames(setup: UnitSetup, seed: int, cfg: GenerationConfig,
                  template: HandTemplate | None = None) -> Iterator[FrameRender]:
    """Render every frame of a unit from every view (one frame in memory at a time)."""
    template = template or hand_template()
    for frame_id, pose in enumerate(setup.poses):
        rng = _frame_rng(seed, setup.unit, frame_id)
        mesh = skin(template, pose)
        joints_world = pose.world_joints()
        labels, renders = [], []
        for view_id, camera in enumerate(setup.cameras):
            render = render_view(mesh, setup.albedo, camera, setup.appearance,
                                 setup.backgrounds[view_id], rng)
            labels.append(view_label(view_id, camera, joints_world, setup.radii, render, cfg))
            renders.append(render)
        yield FrameRender(frame_id, pose, joints_world, labels, renders)


def render_sample(sample_id: int, seed: int, cfg: GenerationConfig = GenerationConfig()
                  ) -> HandSample:
    """Build, pose and render one unit's first frame from every view (writes nothing)."""
    cfg = replace(cfg, sequence_length=1)
    setup = setup_unit(sample_id, seed, cfg)
    frame = next(render_frames(setup, seed, cfg))
    return HandSample(sample_id, setup.hand_side, frame.joints_world, frame.labels,
                      frame.renders)


def view_label(view_id: int, camera: Camera, joints_world: np.ndarray, radii: np.ndarray,
               render: RenderResult, cfg: GenerationConfig) -> ViewLabel:
    """Keypoints, visibility and box of one view, from the camera and the rendered depth."""
    keypoints_3d = camera.to_camera(joints_world)
    keypoints = camera.project(joints_world)
    visibility = joint_visibility(keypoints, keypoints_3d[:, 2], radii, render.depth,
                                  cfg.occlusion_tolerance)
    bbox, area = hand_box(render.part, keypoints[visibility > 0])
    return ViewLabel(view_id, camera, keypoints_3d, keypoints, visibility, bbox, area)


def joint_visibility(keypoints: np.ndarray, joint_depth: np.ndarray, radii: np.ndarray,
                     depth: np.ndarray, tolerance: float) -> np.ndarray:
    """COCO ``v`` per joint: 0 outside the image, 1 if a surface lies well in front, else 2.

    A joint sits inside its finger, ``radius`` behind the skin that covers it; it counts as
    occluded (self-occlusion included) when the rendered surface at its pixel is more than
    ``radius + tolerance`` nearer.
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


def write_unit(out_dir: str, split: str, setup: UnitSetup, frames: Iterable[FrameRender],
               cfg: GenerationConfig) -> dict:
    """Write a unit's files (COCO or MHP layout) and return its shard (json records)."""
    images, annotations, paths = [], [], []
    length = cfg.sequence_length
    for frame in frames:
        sample_id = setup.unit * length + frame.frame_id
        if cfg.output_format == 'mhp':
            mhp_writer.write_frame_labels(out_dir, setup.unit + 1, frame.frame_id,
                                          frame.joints_world, setup.hand_side, setup.cameras)
        for label, render in zip(frame.labels, frame.renders):
            view_paths = _view_paths(cfg, split, setup.unit, frame.frame_id, sample_id,
                                     label.view_id)
            writer.save_rgb(osp.join(out_dir, view_paths['rgb']), render.rgb, cfg.jpeg_quality)
            extra = dict(sequence_id=setup.unit, frame_id=frame.frame_id)
            if cfg.save_depth:
                writer.save_png(osp.join(out_dir, view_paths['depth']),
                                depth_to_uint16(render.depth))
                writer.save_png(osp.join(out_dir, view_paths['mask']), render.mask)
                extra.update(depth_file=osp.basename(view_paths['depth']),
                             mask_file=osp.basename(view_paths['mask']))
            cam = label.camera
            if cam.dist is not None:
                extra['dist'] = np.asarray(cam.dist, dtype=np.float64).tolist()
            image_id = sample_id * cfg.views + label.view_id
            name = (osp.basename(view_paths['rgb']) if cfg.output_format == 'coco'
                    else view_paths['rgb'])
            images.append(writer.image_record(image_id, name, cam.width, cam.height, cam.K,
                                              cam.R, cam.t, label.view_id, sample_id,
                                              setup.hand_side, **extra))
            annotations.append(writer.annotation_record(
                image_id, label.bbox_xywh, label.area, label.keypoints, label.visibility,
                label.keypoints_3d, frame.joints_world))
            paths.append({k: view_paths[k] for k in ('rgb', 'depth', 'mask')
                          if k == 'rgb' or cfg.save_depth})
    if cfg.output_format == 'mhp':
        for k, cam in enumerate(setup.cameras, 1):
            mhp_writer.write_calibration(out_dir, setup.unit + 1, k, cam.R, cam.t)
    return dict(unit=setup.unit, split=split, images=images, annotations=annotations,
                paths=paths)


def _view_paths(cfg: GenerationConfig, split: str, unit: int, frame: int, sample_id: int,
                view: int) -> dict[str, str]:
    if cfg.output_format == 'mhp':
        return mhp_writer.frame_paths(unit + 1, frame, view + 1)
    png = file_name(sample_id, view, '.png')
    return dict(rgb=osp.join('images', split, file_name(sample_id, view, cfg.image_ext)),
                depth=osp.join('depth', split, png), mask=osp.join('masks', split, png))
