"""Writes generated hands in MHP's original layout (:mod:`poseforge.formats.mhp`, which owns the
format: line names, the MHP <-> ``hand21`` maps, cameras, wrist and box rules, the calibration
pickles; :class:`~poseforge.datasets.mhp.MhpDataset` reads the result).

``--format mhp`` writes each generated sequence ``s`` as MHP's ``data_{s + 1}``::

    annotated_frames/data_N/{f}_webcam_{k}.jpg      k = 1..V, 640 x 480 with the mhp rig
    annotated_frames/data_N/{f}_joints.txt          22 lines "NAME x y z", world frame, mm
    calibrations/data_N/webcam_{k}/{rvec,tvec}.pkl  (3, 1) float64, protocol-2 pickles
    projections_2d/data_N/{f}_jointsCam_{k}.txt     21 lines "NAME u v" (with distortion)
    bounding_boxes/data_N/{f}_bbox_{k}.txt          TOP, LEFT, BOTTOM, RIGHT
    depth_maps/data_N/{f}_depth_{k}.png, hand_masks/data_N/{f}_mask_{k}.png   (not in MHP)

Generated hands have a true wrist; MHP has no wrist label, only the palm centre. The palm
written is :func:`~poseforge.formats.mhp.wrist_to_palm` of the hand, the inverse of the rule
the loader derives a wrist with (``MhpDataset(root='wrist')``), so reading the files back gives
the same wrist.
"""
from __future__ import annotations

import os.path as osp

import cv2
import numpy as np

from poseforge.formats.mhp import (BOX_PAD_PX, BOX_REF_DEPTH_MM, CANONICAL_TO_MHP,
                                   MHP_POINT_NAMES, calibration_pickle, joints_file_text,
                                   padded_keypoint_bbox, wrist_to_palm)
from poseforge.generation import writer


# --------------------------------------------------------------------------- joints
def palm_normal(joints: np.ndarray, hand_side: str) -> np.ndarray:
    """Unit direction out of the palm: ``(index - wrist) x (little - wrist)`` for a right
    hand, the opposite for a (mirrored) left hand."""
    normal = np.cross(joints[5] - joints[0], joints[17] - joints[0])
    normal /= np.linalg.norm(normal)
    return -normal if hand_side == 'left' else normal


def mhp_points(joints: np.ndarray) -> np.ndarray:
    """The 21 point lines ``(21, 3)`` (MHP order, ``PALM_POSITION`` last) of a hand21 hand
    whose joint 0 is the wrist."""
    points = np.asarray(joints, dtype=np.float64)[CANONICAL_TO_MHP]
    points[-1] = wrist_to_palm(joints)
    return points


def joints_text(joints: np.ndarray, hand_side: str) -> str:
    """The 22 lines of a ``{f}_joints.txt`` for hand21 ``joints`` (world frame, mm)."""
    return joints_file_text(np.vstack([mhp_points(joints), palm_normal(joints, hand_side)]))


# --------------------------------------------------------------------------- calibration
def write_calibration(out_dir: str, sequence: int, webcam: int, R: np.ndarray,
                      t: np.ndarray) -> None:
    rvec, _ = cv2.Rodrigues(np.asarray(R, dtype=np.float64))
    folder = osp.join(out_dir, 'calibrations', f'data_{sequence}', f'webcam_{webcam}')
    writer.write_bytes(osp.join(folder, 'rvec.pkl'), calibration_pickle(rvec))
    writer.write_bytes(osp.join(folder, 'tvec.pkl'), calibration_pickle(np.asarray(t)))


# --------------------------------------------------------------------------- derived files
def projections_text(joints: np.ndarray, camera) -> str:
    """``{f}_jointsCam_{k}.txt``: the 20 joints and the palm, projected with distortion."""
    uv = camera.project(mhp_points(joints))
    return ''.join(f'{name} {u!r} {v!r}\n' for name, (u, v) in zip(MHP_POINT_NAMES, uv.tolist()))


def bbox_values(joints: np.ndarray, camera) -> tuple[int, int, int, int]:
    """MHP's box ``(top, left, bottom, right)`` of the projected joints and palm
    (:func:`~poseforge.formats.mhp.padded_keypoint_bbox`)."""
    points = mhp_points(joints)
    depth = camera.to_camera(points)[:, 2].mean()
    left, top, right, bottom = padded_keypoint_bbox(camera.project(points)[None], depth[None],
                                                    BOX_PAD_PX, BOX_REF_DEPTH_MM)[0]
    return int(top), int(left), int(bottom), int(right)


def bbox_text(joints: np.ndarray, camera) -> str:
    top, left, bottom, right = bbox_values(joints, camera)
    return f'TOP {top}\nLEFT {left}\nBOTTOM {bottom}\nRIGHT {right}\n'


# --------------------------------------------------------------------------- one frame
def frame_paths(sequence: int, frame: int, webcam: int) -> dict[str, str]:
    """Paths (relative to the output directory) of one view's files."""
    data = f'data_{sequence}'
    return dict(
        rgb=osp.join('annotated_frames', data, f'{frame}_webcam_{webcam}.jpg'),
        joints=osp.join('annotated_frames', data, f'{frame}_joints.txt'),
        projection=osp.join('projections_2d', data, f'{frame}_jointsCam_{webcam}.txt'),
        bbox=osp.join('bounding_boxes', data, f'{frame}_bbox_{webcam}.txt'),
        depth=osp.join('depth_maps', data, f'{frame}_depth_{webcam}.png'),
        mask=osp.join('hand_masks', data, f'{frame}_mask_{webcam}.png'))


def write_frame_labels(out_dir: str, sequence: int, frame: int, joints: np.ndarray,
                       hand_side: str, cameras: list) -> None:
    """The joints file and each view's projections and box of one frame."""
    writer.write_text(osp.join(out_dir, frame_paths(sequence, frame, 1)['joints']),
                      joints_text(joints, hand_side))
    for k, camera in enumerate(cameras, 1):
        paths = frame_paths(sequence, frame, k)
        writer.write_text(osp.join(out_dir, paths['projection']), projections_text(joints, camera))
        writer.write_text(osp.join(out_dir, paths['bbox']), bbox_text(joints, camera))


__all__ = ['bbox_values', 'frame_paths', 'joints_text', 'mhp_points', 'palm_normal',
           'projections_text', 'write_calibration', 'write_frame_labels']
