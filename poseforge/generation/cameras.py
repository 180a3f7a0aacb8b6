"""Calibrated pinhole cameras placed around the hand.

Conventions (OpenCV): the camera frame has ``x`` right, ``y`` down, ``z`` forward; ``R, t`` map
world to camera (``X_cam = R @ X_world + t``); ``K`` maps camera coordinates to pixels, with
pixel centres at integer coordinates (the convention ``cv2.warpAffine`` and the pipeline use),
so the principal point of a ``W x H`` image is ``((W - 1) / 2, (H - 1) / 2)``.

Placement (:func:`ring_cameras`): views sit on a ring around the world up axis (+y) through the
hand's centre, evenly spaced with jitter, each at its own elevation and roll (the roll is the
in-plane rotation seen in the image). The distance is solved so that the hand's box fills a
chosen fraction of the image, then the camera pans (rotates about its centre, an exact operation
that keeps the calibration valid) to move the hand off-centre by a random amount while keeping
every joint inside the image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poseforge.generation.pose_prior import axis_angle

WORLD_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: intrinsics ``K`` (3, 3), world-to-camera ``R`` (3, 3) and ``t`` (3,).

    ``dist`` (optional, OpenCV's ``k1, k2, p1, p2, k3``) adds lens distortion: pixels are
    ``K @ distort(X / Z)``, as ``cv2.projectPoints`` computes them.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int
    dist: np.ndarray | None = None

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, ``-R^T t``."""
        return -self.R.T @ self.t

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) in the camera frame."""
        return np.asarray(points_world) @ self.R.T + self.t

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) of world points (distorted when ``dist`` is set)."""
        return project_points(self.K, self.to_camera(points_world), self.dist)


def intrinsics(focal: float, width: int, height: int) -> np.ndarray:
    """``K`` with square pixels, no skew and the principal point at the image centre."""
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0],
                     [0.0, 0.0, 1.0]])


def focal_from_fov(fov_deg: float, size: int) -> float:
    """Focal length in pixels giving a field of view of ``fov_deg`` across ``size`` pixels."""
    return size / 2.0 / np.tan(np.radians(fov_deg) / 2.0)


def project_points(K: np.ndarray, points_cam: np.ndarray, dist: np.ndarray | None = None
                   ) -> np.ndarray:
    """Pixel coordinates (N, 2) of camera-frame points (N, 3): ``(K @ X)[:2] / z``.

    With ``dist`` (``k1, k2, p1, p2, k3``) the normalised coordinates are distorted first
    (Brown-Conrady, OpenCV's model and argument order).
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if dist is None or not np.any(dist):
        homog = points_cam @ K.T
        return homog[:, :2] / homog[:, 2:3]
    normalised = distort_normalised(points_cam[:, :2] / points_cam[:, 2:3], dist)
    return normalised @ K[:2, :2].T + K[:2, 2]


def distort_normalised(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Brown-Conrady distortion of normalised image coordinates (N, 2)."""
    k1, k2, p1, p2, k3 = (list(np.asarray(dist, dtype=np.float64).ravel()) + [0.0] * 5)[:5]
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 ** 3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], 1)


def undistort_normalised(xy: np.ndarray, dist: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Inverse of :func:`distort_normalised` by fixed-point iteration (mild distortion)."""
    und = xy.copy()
    for _ in range(iterations):
        und = und - (distort_normalised(und, dist) - xy)
    return und


def look_at(eye, target, up=WORLD_UP) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``R, t`` of a camera at ``eye`` looking at ``target``, ``up`` up in image."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, dtype=np.float64)
    if np.linalg.norm(np.cross(forward, up)) < 1e-6 * np.linalg.norm(up):
        up = np.array([0.0, 0.0, -1.0]) if abs(forward[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    down = -up
    down = down - forward * (down @ forward)
    down /= np.linalg.norm(down)
    right = np.cross(down, forward)
    rotation = np.stack([right, down, forward])
    return rotation, -rotation @ eye


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis)
    if sin < 1e-12:
        return np.eye(3)
    return axis_angle(axis, np.arctan2(sin, float(a @ b)))


@dataclass(frozen=True)
class CameraConfig:
    """How views are placed.

    Attributes:
        fov_deg: range of the horizontal field of view.
        fill: range of the hand box's longer side as a fraction of the image side.
        elevation_deg: range of the elevation above the hand's horizontal plane.
        roll_deg: largest in-plane rotation (uniform in ``[-roll, roll]``).
        azimuth_jitter: azimuth jitter as a fraction of the spacing between views.
        center_jitter: largest offset of the hand's centre from the image centre (fraction).
        margin: joints stay at least this fraction of the image side inside the border.
    """

    fov_deg: tuple[float, float] = (30.0, 55.0)
    fill: tuple[float, float] = (0.5, 0.78)
    elevation_deg: tuple[float, float] = (-35.0, 45.0)
    roll_deg: float = 30.0
    azimuth_jitter: float = 0.35
    center_jitter: float = 0.12
    margin: float = 0.03


def _padded_box(camera: Camera, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` of the projected points, each grown by its projected radius."""
    cam = camera.to_camera(points)
    uv = project_points(camera.K, cam, camera.dist)
    pad = camera.K[0, 0] * radii / np.maximum(cam[:, 2], 1e-6)
    return np.concatenate([(uv - pad[:, None]).min(0), (uv + pad[:, None]).max(0)])


def _place(direction: np.ndarray, target: np.ndarray, distance: float, roll: float, K: np.ndarray,
           size: tuple[int, int]) -> Camera:
    rotation, _ = look_at(target + distance * direction, target)
    rotation = axis_angle([0.0, 0.0, 1.0], roll) @ rotation
    eye = target + distance * direction
    return Camera(K=K, R=rotation, t=-rotation @ eye, width=size[0], height=size[1])


def _pan(camera: Camera, from_px: np.ndarray, to_px: np.ndarray) -> Camera:
    """The camera turned about its centre so that what was seen at ``from_px`` is at ``to_px``."""
    k_inv = np.linalg.inv(camera.K)
    turn = rotation_between(k_inv @ np.append(from_px, 1.0), k_inv @ np.append(to_px, 1.0))
    return Camera(K=camera.K, R=turn @ camera.R, t=turn @ camera.t, width=camera.width,
                  height=camera.height, dist=camera.dist)


def frame_view(rng: np.random.Generator, direction: np.ndarray, points: np.ndarray,
               radii: np.ndarray, width: int, height: int, cfg: CameraConfig) -> Camera:
    """One camera looking along ``-direction`` at the hand, framed as :class:`CameraConfig` says."""
    size = min(width, height)
    K = intrinsics(focal_from_fov(rng.uniform(*cfg.fov_deg), width), width, height)
    roll = np.radians(rng.uniform(-cfg.roll_deg, cfg.roll_deg))
    fill = rng.uniform(*cfg.fill)
    shift = rng.uniform(-cfg.center_jitter, cfg.center_jitter, size=2) * size
    target = 0.5 * (points.min(0) + points.max(0))
    reach = np.linalg.norm(points - target, axis=1).max() + radii.max()
    distance = 4.0 * reach
    for attempt in range(8):
        for _ in range(3):  # the box side is close to proportional to 1 / distance
            camera = _place(direction, target, distance, roll, K, (width, height))
            box = _padded_box(camera, points, radii)
            side = max(box[2] - box[0], box[3] - box[1])
            distance = max(distance * side / (fill * size), reach * 1.3)
        camera = _place(direction, target, distance, roll, K, (width, height))
        box = _padded_box(camera, points, radii)
        camera = _pan(camera, 0.5 * (box[:2] + box[2:]), _centre_goal(box, shift, width, height,
                                                                      cfg.margin * size))
        uv = camera.project(points)
        inside = cfg.margin * size
        if (uv.min() >= inside and uv[:, 0].max() <= width - 1 - inside
                and uv[:, 1].max() <= height - 1 - inside):
            return camera
        fill *= 0.92   # too tight (strong perspective or big shift): back off and retry
        shift *= 0.5
    return camera


def _centre_goal(box: np.ndarray, shift: np.ndarray, width: int, height: int,
                 margin: float) -> np.ndarray:
    """Where the box centre should go: image centre plus ``shift``, keeping the box inside."""
    half = 0.5 * (box[2:] - box[:2])
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0]) + shift
    low = margin + half
    high = np.array([width - 1, height - 1]) - margin - half
    return np.where(low <= high, np.clip(centre, low, high), 0.5 * (low + high))


def ring_directions(rng: np.random.Generator, num_views: int, cfg: CameraConfig) -> np.ndarray:
    """Unit vectors (V, 3) from the hand to each camera: a jittered ring around world up."""
    spacing = 2 * np.pi / num_views
    azimuth = (rng.uniform(0, 2 * np.pi) + spacing * np.arange(num_views)
               + rng.uniform(-0.5, 0.5, num_views) * cfg.azimuth_jitter * spacing)
    elevation = np.radians(rng.uniform(*cfg.elevation_deg, size=num_views))
    return np.stack([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                     np.cos(elevation) * np.cos(azimuth)], axis=1)


def ring_cameras(rng: np.random.Generator, points: np.ndarray, radii: np.ndarray,
                 num_views: int, width: int, height: int,
                 cfg: CameraConfig = CameraConfig()) -> list[Camera]:
    """``num_views`` cameras around world points (the joints, with their skin ``radii``)."""
    return [frame_view(rng, d, points, radii, width, height, cfg)
            for d in ring_directions(rng, num_views, cfg)]
