"""``GeneratePalmTarget``: whether the palm faces the camera, the palm classifier's label.

The label is computed from the sample's keypoints and known hand side
(:func:`poseforge.codecs.hand_side.palm_facing_target`; why palm facing and not the side:
that module's docstring). Placed after ``TopdownAffine`` it reads ``transformed_keypoints``:
``RandomFlip`` mirrors the keypoints *and* swaps ``hand_side``, so the label is unchanged by
the flip, as the palm's facing is; rotation and scale keep the winding. Samples whose side is
unknown, or whose palm triangle (wrist, index1, little1) is not fully labelled, get -1 and no
loss.
"""
from __future__ import annotations

import numpy as np

from poseforge.codecs.hand_side import palm_facing_target, palm_is_labelled
from poseforge.datasets.transforms.base import BaseTransform
from poseforge.registry import TRANSFORMS

#: ``palm_facing`` of a sample the classifier cannot learn from (side or palm unlabelled).
UNKNOWN = -1.0


@TRANSFORMS.register_module()
class GeneratePalmTarget(BaseTransform):
    """Write ``palm_facing`` ``(1,)`` float32: 1 palm towards the camera, 0 back, -1 unknown."""

    def transform(self, results: dict) -> dict:
        keypoints = results.get('transformed_keypoints', results.get('keypoints'))
        side = results.get('hand_side')
        label = UNKNOWN
        if keypoints is not None and side in ('left', 'right'):
            kpts = np.asarray(keypoints, np.float64).reshape(-1, 2)
            visible = results.get('keypoints_visible')
            if palm_is_labelled(np.ones(len(kpts)) if visible is None else visible):
                label = float(palm_facing_target(kpts, side == 'left'))
        results['palm_facing'] = np.array([label], np.float32)
        return results
