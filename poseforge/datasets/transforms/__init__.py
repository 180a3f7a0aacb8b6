"""Top-down data pipeline transforms (``TRANSFORMS``); importing this registers them all.

Order of a training pipeline (docs/design.md)::

    LoadImage -> GetBBoxCenterScale -> RandomFlip -> RandomBBoxTransform -> TopdownAffine
              -> PhotometricAug -> GenerateTarget -> PackPoseInputs
"""
from poseforge.datasets.transforms.affine import (TopdownAffine, fix_aspect_ratio, flip_matrix,
                                                  get_warp_matrix, invert_affine,
                                                  transform_points)
from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.bbox import (GetBBoxCenterScale, RandomBBoxTransform,
                                                RandomFlip, flip_bbox_xyxy, flip_camera_geometry,
                                                flip_keypoints, flip_points)
from poseforge.datasets.transforms.depth import GenerateDepthTarget, LoadDepth
from poseforge.datasets.transforms.detection import (DetAffine, GenerateBoxTargets,
                                                     PackDetInputs, letterbox_matrix)
from poseforge.datasets.transforms.hand_side import GeneratePalmTarget
from poseforge.datasets.transforms.formatting import DEFAULT_META_KEYS, PackPoseInputs
from poseforge.datasets.transforms.loading import (EncodedImage, LoadImage, decode_image,
                                                   get_image, jpeg_header)
from poseforge.datasets.transforms.photometric import (DEFAULT_PHOTOMETRIC, PHOTOMETRIC_DISTORTION,
                                                        PhotometricAug)
from poseforge.datasets.transforms.target import GenerateTarget

__all__ = [
    'BaseTransform', 'LoadImage', 'GetBBoxCenterScale', 'RandomFlip', 'RandomBBoxTransform',
    'TopdownAffine', 'DetAffine', 'GenerateBoxTargets', 'PackDetInputs', 'letterbox_matrix',
    'PhotometricAug', 'GenerateTarget', 'GeneratePalmTarget', 'PackPoseInputs', 'EncodedImage',
    'get_image', 'decode_image', 'jpeg_header', 'get_warp_matrix', 'fix_aspect_ratio',
    'flip_matrix', 'invert_affine', 'transform_points', 'flip_points', 'flip_keypoints',
    'flip_bbox_xyxy', 'flip_camera_geometry', 'LoadDepth', 'GenerateDepthTarget',
    'DEFAULT_META_KEYS', 'DEFAULT_PHOTOMETRIC', 'PHOTOMETRIC_DISTORTION']
