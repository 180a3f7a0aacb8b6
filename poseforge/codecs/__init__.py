"""Keypoint codecs: keypoints <-> training targets (``KEYPOINT_CODECS``).

Importing this package registers every codec (the registry's lazy ``locations`` point here).
NSRM's limb-mask targets live with the model: :mod:`poseforge.models.nsrm.limb_masks`.
"""
from poseforge.codecs.center_box import CenterBoxCodec
from poseforge.codecs.msra_heatmap import MSRAHeatmap, gaussian_blur_kernel

__all__ = ['CenterBoxCodec', 'MSRAHeatmap', 'gaussian_blur_kernel']
