"""Pipeline presets for configs: the standard top-down recipe written once.

Configs import these (``from poseforge.datasets.transforms.presets import topdown_pipelines``)
instead of copying the same eight transforms into every file; what differs between datasets
(crop padding, rotation range, photometric augmentation) is an argument.
"""
from __future__ import annotations

from typing import Any


def topdown_train_pipeline(codec: dict, padding: float = 1.25, photometric: bool = True,
                           meta_keys: tuple[str, ...] | None = None,
                           **bbox_transform: Any) -> list[dict]:
    """Load, box -> centre/scale (x ``padding``), random flip, random shift/scale/rotation
    (``bbox_transform`` overrides :class:`RandomBBoxTransform`'s defaults), one affine crop to
    the codec's input size, photometric augmentation on the crop, targets, packing.

    JPEG decoding is deferred to the crop (``LoadImage(reduce='auto')``), which decodes only the
    region it reads, at 1/2, 1/4 or 1/8 size whenever the crop shrinks the box by that much
    anyway; evaluation decodes at full size so that its crops are exactly mmpose's."""
    pipeline = [
        dict(type='LoadImage', reduce='auto'),
        dict(type='GetBBoxCenterScale', padding=padding),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomBBoxTransform', **bbox_transform),
        dict(type='TopdownAffine', input_size=tuple(codec['input_size'])),
    ]
    if photometric:
        pipeline.append(dict(type='PhotometricAug'))
    pipeline.append(dict(type='GenerateTarget', encoder=dict(codec)))
    pipeline.append(_pack(meta_keys))
    return pipeline


def topdown_test_pipeline(codec: dict, padding: float = 1.25,
                          meta_keys: tuple[str, ...] | None = None) -> list[dict]:
    """Load, box -> centre/scale (x ``padding``), one affine crop, packing (no targets)."""
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=padding),
        dict(type='TopdownAffine', input_size=tuple(codec['input_size'])),
        _pack(meta_keys),
    ]


def topdown_pipelines(codec: dict, padding: float = 1.25, photometric: bool = True,
                      **bbox_transform: Any) -> tuple[list[dict], list[dict]]:
    """``(train, test)`` pipelines sharing the codec and the crop padding."""
    return (topdown_train_pipeline(codec, padding, photometric, **bbox_transform),
            topdown_test_pipeline(codec, padding))



def sim2real_pipelines(codec: dict) -> tuple[list[dict], list[dict]]:
    """``(train, test)`` pipelines of the models trained on generated hands for real images
    (``configs/sim2real/``): the top-down ones with the ``sim2real`` photometric recipe and
    in-plane rotation over the whole circle (sd 180 degrees, clipped at +-360, 60% of crops):
    the generator frames hands near upright (5% of its hands are turned more than 60 degrees),
    real photos do not (half of the fixture hands are; ``tools/sim2real.py --gap``, README)."""
    train, test = topdown_pipelines(codec, padding=1.25, rotate_factor=180.0,
                                    scale_factor=(0.75, 1.25))
    train = [dict(t, transforms='sim2real') if t['type'] == 'PhotometricAug' else t
             for t in train]
    return train, test

def palm_classifier_pipelines(input_size: tuple[int, int] = (64, 64), padding: float = 1.25,
                               photometric: bool = True, **bbox_transform: Any
                               ) -> tuple[list[dict], list[dict]]:
    """``(train, test)`` pipelines of a hand crop classifier (``PalmClassifier``): the top-down
    crops with ``GeneratePalmTarget`` in place of the heatmap targets, in both pipelines (the
    test split's labels are read by ``HandSideAccuracy`` from ``meta``, the target only feeds
    the loss). Mirroring stays: it keeps the palm's facing (and swaps the side)."""
    crop = dict(input_size=tuple(input_size))
    train = [dict(type='GeneratePalmTarget') if t['type'] == 'GenerateTarget' else t
             for t in topdown_train_pipeline(crop, padding, photometric, **bbox_transform)]
    return train, topdown_test_pipeline(crop, padding)


def _pack(meta_keys: tuple[str, ...] | None) -> dict:
    pack = dict(type='PackPoseInputs')
    if meta_keys is not None:
        pack['meta_keys'] = tuple(meta_keys)
    return pack


# --------------------------------------------------------------------------- 3D hands
def topdown_3d_pipelines(codec: dict, depth_codec: dict | None = None, padding: float = 1.25,
                         depth_format: str | None = None, depth_map_size: tuple | None = None,
                         depth_from_image_path: tuple | None = None, flip: bool = True,
                         photometric: bool | list = True, test_depth: bool = False,
                         **bbox_transform: Any) -> tuple[list[dict], list[dict]]:
    """``(train, test)`` pipelines of the 3D hand models: the top-down recipe plus relative-depth
    targets (``GenerateDepthTarget``) and, with ``depth_format``, the crop's depth map
    (``LoadDepth``; DGGAN's GAN and regulariser train on it).

    ``flip`` keeps ``RandomFlip``: it mirrors ``keypoints_3d``, ``K`` and ``hand_side`` with the
    image, and depth maps are cropped through ``input_to_image``, so 3D samples stay
    consistent (DGGAN's code trains without flips; ``flip=False`` does the same).
    ``test_depth`` also loads the depth in the test pipeline (to draw it beside the generated
    one); evaluation never needs it. ``photometric`` may be a list of albumentations configs
    (``PhotometricAug(transforms=...)``), e.g. DGGAN's per-channel colour scaling.
    """
    depth_codec = dict(type='RelativeDepth') if depth_codec is None else dict(depth_codec)
    load_depth = []
    if depth_format is not None:
        load_depth = [dict(type='LoadDepth', format=depth_format,
                           from_image_path=depth_from_image_path)]
    target = dict(type='GenerateDepthTarget', codec=depth_codec,
                  depth_map_size=depth_map_size if depth_format else None)
    train = topdown_train_pipeline(codec, padding, bool(photometric), **bbox_transform)
    if isinstance(photometric, (list, tuple)):
        train = [dict(t, transforms=list(photometric)) if t['type'] == 'PhotometricAug' else t
                 for t in train]
    if not flip:
        train = [t for t in train if t['type'] != 'RandomFlip']
    pack = train.pop()
    train += load_depth + [target, pack]
    test = topdown_test_pipeline(codec, padding)
    pack = test.pop()
    if test_depth and load_depth:
        test += load_depth + [target, pack]
    else:
        test += [pack]
    return train, test
