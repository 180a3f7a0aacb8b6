"""Camera rigs: where the V calibrated views of a sequence stand.

* ``ring`` (default, :func:`cameras.ring_cameras`): a jittered ring around world up, each view
  with its own field of view, elevation, roll and framing;
* ``sphere``: directions spread evenly over the whole sphere (a Fibonacci lattice turned at
  random), so views from below and straight above occur too; framed like ``ring``;
* ``ring+sphere``: each sequence draws ``ring`` or ``sphere`` (even odds) from its own random
  stream, so a dataset holds both the ring's near-upright views and the sphere's foreshortened
  ones;
* ``mhp``: imitates the four webcams of MHP (Gomez-Donoso et al.; ``docs/datasets.md``): the
  intrinsics, lens distortion and 640 x 480 images of its calibration
  (:mod:`poseforge.formats.mhp`), and a layout measured from the released calibration of ``data_1``
  relative to the hand (:data:`MHP_LAYOUT`: two cameras above either side, one almost
  overhead, one in front and slightly below), jittered per sequence. Views beyond four repeat
  the layout with more jitter.

A rig is fixed for a whole sequence (the cameras of a capture rig do not move); it is framed on
all the sequence's joints at once so the hand stays in every view.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from poseforge.formats.mhp import MHP_DIST, MHP_K
from poseforge.formats.mhp import MHP_IMAGE_SIZE as MHP_SIZE
from poseforge.generation.cameras import (Camera, CameraConfig, WORLD_UP, frame_view,
                                          look_at, ring_cameras, undistort_normalised)
from poseforge.generation.pose_prior import axis_angle, sample_root

RIGS = ('ring', 'sphere', 'ring+sphere', 'mhp')

#: Per webcam: azimuth about world up and elevation (deg) of the direction from the hand to the
#: camera, distance (mm) and roll about the optical axis (deg), from MHP data_1's calibration.
MHP_LAYOUT = np.array([[-86.6, 54.7, 529.0, -2.6], [98.1, 49.2, 522.0, 8.4],
                       [-35.5, 88.0, 655.0, -1.5], [177.3, -9.7, 379.0, 1.7]])


def rig_image_size(rig: str, size: int) -> tuple[int, int]:
    """``(width, height)`` of a rig's images: ``size`` square, or MHP's 640 x 480."""
    return MHP_SIZE if rig == 'mhp' else (size, size)


def make_rig(rig: str, rng: np.random.Generator, points: np.ndarray, radii: np.ndarray,
             views: int, size: int, cfg: CameraConfig = CameraConfig()) -> list[Camera]:
    """``views`` cameras of kind ``rig`` framing world ``points`` (with skin ``radii``)."""
    if rig == 'ring+sphere':
        rig = 'sphere' if rng.uniform() < 0.5 else 'ring'
    if rig == 'ring':
        return ring_cameras(rng, points, radii, views, size, size, cfg)
    if rig == 'sphere':
        return [frame_view(rng, d, points, radii, size, size, cfg)
                for d in sphere_directions(rng, views)]
    if rig == 'mhp':
        return mhp_cameras(rng, points, radii, views)
    raise ValueError(f"unknown rig '{rig}'; choose one of {', '.join(RIGS)}")


def sphere_directions(rng: np.random.Generator, views: int) -> np.ndarray:
    """Unit vectors (V, 3) spread evenly over the sphere, randomly turned."""
    k = np.arange(views) + 0.5
    z = 1 - 2 * k / views
    phi = np.pi * (1 + 5 ** 0.5) * k
    r = np.sqrt(1 - z * z)
    lattice = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)
    turn = sample_root(rng, max_tilt_deg=180.0)
    return lattice @ turn.T


def mhp_cameras(rng: np.random.Generator, points: np.ndarray, radii: np.ndarray,
                views: int) -> list[Camera]:
    """MHP-like webcams around ``points`` (see module docstring)."""
    width, height = MHP_SIZE
    target = 0.5 * (points.min(0) + points.max(0))
    cameras = []
    for v in range(views):
        azimuth, elevation, distance, roll = MHP_LAYOUT[v % len(MHP_LAYOUT)]
        spread = 1.0 + v // len(MHP_LAYOUT)
        azimuth = np.radians(azimuth + rng.normal(0.0, 6.0 * spread))
        elevation = np.radians(np.clip(elevation + rng.normal(0.0, 5.0 * spread), -60, 89))
        direction = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                              np.cos(elevation) * np.cos(azimuth)])
        distance *= rng.uniform(0.9, 1.1)
        aim = target + rng.normal(0.0, 15.0, 3)
        camera = _mhp_view(direction, aim, distance, np.radians(roll + rng.normal(0, 4.0)))
        for _ in range(10):   # back off until every joint (with its skin) is in the image
            if _inside(camera, points, radii, width, height):
                break
            distance *= 1.12
            camera = _mhp_view(direction, aim, distance, np.radians(roll))
        cameras.append(camera)
    return cameras


def _mhp_view(direction: np.ndarray, aim: np.ndarray, distance: float, roll: float) -> Camera:
    eye = aim + distance * direction
    rotation, _ = look_at(eye, aim, WORLD_UP)
    rotation = axis_angle([0.0, 0.0, 1.0], roll) @ rotation
    return Camera(K=MHP_K.copy(), R=rotation, t=-rotation @ eye, width=MHP_SIZE[0],
                  height=MHP_SIZE[1], dist=MHP_DIST.copy())


def _inside(camera: Camera, points: np.ndarray, radii: np.ndarray, width: int,
            height: int) -> bool:
    cam = camera.to_camera(points)
    if np.any(cam[:, 2] <= 1.0):
        return False
    uv = camera.project(points)
    pad = camera.K[0, 0] * radii / cam[:, 2] + 4.0
    return bool(np.all(uv - pad[:, None] >= 0) and np.all(uv[:, 0] + pad <= width - 1)
                and np.all(uv[:, 1] + pad <= height - 1))


@lru_cache(maxsize=4)
def _distortion_maps(key: tuple) -> tuple[np.ndarray, np.ndarray]:
    K = np.array(key[0]).reshape(3, 3)
    dist = np.array(key[1])
    width, height = key[2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    pixels = np.stack([xs.ravel(), ys.ravel()], 1)
    normalised = (pixels - K[:2, 2]) @ np.linalg.inv(K[:2, :2]).T
    undistorted = undistort_normalised(normalised, dist) @ K[:2, :2].T + K[:2, 2]
    return (undistorted[:, 0].reshape(height, width).astype(np.float32),
            undistorted[:, 1].reshape(height, width).astype(np.float32))


def distortion_maps(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of the distorted image, where it lies in the undistorted render."""
    key = (tuple(np.asarray(camera.K).ravel()), tuple(np.asarray(camera.dist).ravel()),
           (camera.width, camera.height))
    return _distortion_maps(key)


__all__ = ['MHP_DIST', 'MHP_K', 'MHP_LAYOUT', 'MHP_SIZE', 'RIGS', 'distortion_maps',
           'make_rig', 'mhp_cameras', 'rig_image_size', 'sphere_directions']
