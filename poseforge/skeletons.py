"""Keypoint layouts: the one place that defines names, limbs, flip pairs and colours.

Every dataset loader converts its file's joint order into one of these layouts, and every
model, codec, metric and drawing reads the layout from here (through ``dataset.metainfo``).

* ``hand21``: the canonical 21-joint hand (OneHand10K / mmpose order): wrist, then thumb, index,
  middle, ring and little finger, each from the root (CMC/MCP) to the tip.
* ``coco17``: COCO person keypoints, with the 17 OKS sigmas COCOeval uses.
* ``mpii16``: MPII Human Pose, in the dataset's own joint-id order.
* ``coco17+hand21``: a union for models that predict several layouts at once (knowledge
  amalgamation of a body and a hand teacher): COCO's 17 body joints, then the 21 hand joints,
  names prefixed ``body_`` / ``hand_`` (:func:`union_skeleton`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    Attributes:
        name: registry-style name (``hand21``, ``coco17``, ``mpii16``).
        keypoint_names: one name per keypoint, in order.
        limbs: ``(parent, child)`` index pairs drawn and used by structure models.
        flip_pairs: ``(left, right)`` index pairs swapped by a horizontal flip. A single hand
            has none: flipping a right hand gives a (plausible) left hand with the same order.
        keypoint_colors / limb_colors: RGB colours for drawing.
        sigmas: per-keypoint OKS sigmas (COCO), or ``None``.
    """

    name: str
    keypoint_names: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    keypoint_colors: tuple[RGB, ...] = ()
    limb_colors: tuple[RGB, ...] = ()
    sigmas: tuple[float, ...] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def flip_indices(self) -> list[int]:
        """``flip_indices[i]`` is the keypoint that keypoint ``i`` becomes after a flip."""
        indices = list(range(self.num_keypoints))
        for left, right in self.flip_pairs:
            indices[left], indices[right] = right, left
        return indices

    def metainfo(self) -> dict:
        """The ``metainfo`` dict datasets expose (mmengine ``BaseDataset.METAINFO`` style)."""
        return dict(
            skeleton=self.name,
            num_keypoints=self.num_keypoints,
            keypoint_names=list(self.keypoint_names),
            limbs=[list(limb) for limb in self.limbs],
            flip_indices=self.flip_indices,
            keypoint_colors=[list(c) for c in self.keypoint_colors],
            limb_colors=[list(c) for c in self.limb_colors],
            sigmas=None if self.sigmas is None else list(self.sigmas),
        )

    def limb_array(self) -> np.ndarray:
        """Limbs as an ``(L, 2)`` int array, for vectorised code."""
        return np.asarray(self.limbs, dtype=np.int64).reshape(-1, 2)


# --------------------------------------------------------------------------- hand, 21 joints
HAND_FINGERS = ('thumb', 'index', 'middle', 'ring', 'little')
_FINGER_PARTS = ('1', '2', '3', '4')  # root -> tip
_FINGER_COLORS: tuple[RGB, ...] = (
    (255, 128, 0), (255, 51, 255), (102, 178, 255), (255, 51, 51), (0, 255, 0))


def _hand21() -> Skeleton:
    names = ['wrist'] + [f'{finger}{part}' for finger in HAND_FINGERS for part in _FINGER_PARTS]
    limbs = []
    for f in range(5):
        root = 1 + 4 * f
        limbs.append((0, root))
        limbs.extend((root + i, root + i + 1) for i in range(3))
    keypoint_colors = [(255, 255, 255)] + [c for c in _FINGER_COLORS for _ in range(4)]
    limb_colors = [c for c in _FINGER_COLORS for _ in range(4)]
    return Skeleton('hand21', tuple(names), tuple(limbs), (), tuple(keypoint_colors),
                    tuple(limb_colors))


HAND21 = _hand21()
#: Index of each finger's four joints (root -> tip) in ``hand21``.
HAND21_FINGER_JOINTS: dict[str, tuple[int, int, int, int]] = {
    finger: tuple(range(1 + 4 * f, 5 + 4 * f)) for f, finger in enumerate(HAND_FINGERS)}


# --------------------------------------------------------------------------- COCO, 17 joints
def _coco17() -> Skeleton:
    names = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
             'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
             'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
    limbs = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
             (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
    flip_pairs = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
    left, right, centre = (0, 255, 0), (255, 128, 0), (51, 153, 255)
    side = [centre] + [left if i % 2 == 1 else right for i in range(1, 17)]
    limb_colors = tuple(left if (names[a].startswith('left') and names[b].startswith('left'))
                        else right if (names[a].startswith('right')
                                       and names[b].startswith('right')) else centre
                        for a, b in limbs)
    sigmas = (.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107,
              .087, .087, .089, .089)
    return Skeleton('coco17', names, limbs, flip_pairs, tuple(side), limb_colors, sigmas)


COCO17 = _coco17()


# --------------------------------------------------------------------------- MPII, 16 joints
def _mpii16() -> Skeleton:
    names = ('right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle',
             'pelvis', 'thorax', 'upper_neck', 'head_top', 'right_wrist', 'right_elbow',
             'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist')
    limbs = ((0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (7, 12),
             (12, 11), (11, 10), (7, 13), (13, 14), (14, 15))
    flip_pairs = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    left, right, centre = (0, 255, 0), (255, 128, 0), (51, 153, 255)
    kp_colors = tuple(left if n.startswith('left') else right if n.startswith('right')
                      else centre for n in names)
    limb_colors = tuple(kp_colors[b] if kp_colors[a] == kp_colors[b] else centre
                        for a, b in limbs)
    return Skeleton('mpii16', names, limbs, flip_pairs, kp_colors, limb_colors)


MPII16 = _mpii16()



# --------------------------------------------------------------------------- unions of layouts
def union_skeleton(name: str, parts: Sequence[tuple[str, Skeleton]]) -> Skeleton:
    """Several layouts side by side in one: ``parts`` are ``(prefix, skeleton)`` in order.

    Keypoint ``i`` of part ``p`` becomes ``offset_p + i`` and is named ``<prefix>_<name>``;
    limbs and flip pairs are shifted by the same offset (a flip never crosses parts: a body's
    left wrist stays a body joint). OKS sigmas are kept only when every part has them.
    ``extra['parts']`` maps each prefix to ``(part skeleton name, start, stop)``, what datasets
    (:class:`~poseforge.datasets.union.UnionKeypointDataset`) and amalgamation tasks
    (:func:`skeleton_parts`) read.
    """
    if not parts:
        raise ValueError(f"union_skeleton '{name}': no parts")
    names: list[str] = []
    limbs: list[tuple[int, int]] = []
    flips: list[tuple[int, int]] = []
    keypoint_colors: list[RGB] = []
    limb_colors: list[RGB] = []
    index: dict[str, tuple[str, int, int]] = {}
    offset = 0
    for prefix, part in parts:
        if not prefix.isidentifier() or prefix in index:
            raise ValueError(f"union_skeleton '{name}': part prefixes must be unique "
                             f'identifiers, got {prefix!r}')
        names += [f'{prefix}_{n}' for n in part.keypoint_names]
        limbs += [(a + offset, b + offset) for a, b in part.limbs]
        flips += [(a + offset, b + offset) for a, b in part.flip_pairs]
        keypoint_colors += part.keypoint_colors
        limb_colors += part.limb_colors
        index[prefix] = (part.name, offset, offset + part.num_keypoints)
        offset += part.num_keypoints
    sigmas = (None if any(part.sigmas is None for _, part in parts)
              else tuple(s for _, part in parts for s in part.sigmas))
    return Skeleton(name, tuple(names), tuple(limbs), tuple(flips), tuple(keypoint_colors),
                    tuple(limb_colors), sigmas, extra=dict(parts=index))


#: COCO's body joints (0-16) then a hand (17-37): the layout of a body + hand amalgamation.
COCO17_HAND21 = union_skeleton('coco17+hand21', [('body', COCO17), ('hand', HAND21)])

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (HAND21, COCO17, MPII16, COCO17_HAND21)}


def get_skeleton(name: str) -> Skeleton:
    """The layout called ``name``; a clear error lists the known ones."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"Unknown skeleton '{name}'; known: {', '.join(SKELETONS)}") from None


def skeleton_parts(name: str) -> dict[str, list[int]]:
    """``{prefix: keypoint indices}`` of a union layout's parts (one part, all keypoints, for
    an ordinary layout): the teacher tasks of an amalgamation on that layout."""
    skeleton = get_skeleton(name)
    parts = skeleton.extra.get('parts')
    if not parts:
        return {skeleton.name: list(range(skeleton.num_keypoints))}
    return {prefix: list(range(start, stop)) for prefix, (_, start, stop) in parts.items()}
