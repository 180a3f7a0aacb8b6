"""``PhotometricAug``: albumentations pixel-level augmentation of the crop.

mmpose's ``Albumentation`` transform accepts any albumentations class and works on the full
image before the crop. Here only *photometric* (``ImageOnlyTransform``) classes are accepted:
a geometric one would move pixels without moving the keypoints. Applied after
``TopdownAffine`` it touches 256x256 pixels instead of the whole photo.

Seeding: albumentations 2.x draws from its own generators, not ``np.random``. This wrapper
hands the whole ``Compose`` one fresh generator pair seeded from ``np.random`` on every call, so
that a sample's photometric change follows ``np.random`` like every other poseforge transform:
per-sample seeding (:mod:`poseforge.engine.reproducibility`) then fixes it, whatever the worker,
and forked dataloader workers never repeat each other.
"""
from __future__ import annotations

import difflib
import random
from typing import Any, Sequence

import albumentations as A
import numpy as np
from albumentations.core.composition import BaseCompose
from albumentations.core.transforms_interface import BasicTransform, ImageOnlyTransform

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.datasets.transforms.formatting import contiguous_image
from poseforge.datasets.transforms.loading import get_image
from poseforge.registry import TRANSFORMS

#: Light colour / blur / noise / compression changes suited to hands and people.
DEFAULT_PHOTOMETRIC: tuple[dict, ...] = (
    dict(type='RandomBrightnessContrast', brightness_limit=0.2, contrast_limit=0.2, p=0.5),
    dict(type='HueSaturationValue', hue_shift_limit=10, sat_shift_limit=20, val_shift_limit=10,
         p=0.3),
    dict(type='OneOf', transforms=[dict(type='GaussianBlur', blur_limit=(3, 5)),
                                   dict(type='MotionBlur', blur_limit=(3, 5))], p=0.1),
    # per_channel=False: one noise plane for all channels, 4.5x cheaper than albumentations'
    # per-channel default (0.9 vs 4.3 ms on a 368x368 crop) and as good an augmentation.
    dict(type='GaussNoise', std_range=(0.02, 0.06), per_channel=False, p=0.1),
    dict(type='ImageCompression', quality_range=(60, 95), p=0.1),
)


#: The colour recipe of mmpose's (and mmdet's) ``PhotometricDistortion``, in albumentations terms:
#: brightness +-32 levels (p 0.5), contrast x[0.5, 1.5] (p 0.5), saturation x[0.5, 1.5] with hue
#: +-18 OpenCV hue units = +-36 degrees = 0.1 of the circle (p 0.75: the HSV round trip of 3 of
#: its 4 modes), channel swap (p 0.5). ``tools/benchmark.py --vs-mmpose`` maps it to mmpose's
#: ``PhotometricDistortion`` so both sides of the comparison do the same kind of work.
PHOTOMETRIC_DISTORTION: tuple[dict, ...] = (
    dict(type='RandomBrightnessContrast', brightness_limit=(-32 / 255, 32 / 255),
         contrast_limit=(0.0, 0.0), p=0.5),
    dict(type='RandomBrightnessContrast', brightness_limit=(0.0, 0.0), contrast_limit=(-0.5, 0.5),
         p=0.5),
    dict(type='ColorJitter', brightness=(1.0, 1.0), contrast=(1.0, 1.0), saturation=(0.5, 1.5),
         hue=(-0.1, 0.1), p=0.75),
    dict(type='ChannelShuffle', p=0.5),
)


#: Training on generated hands for real images (``configs/sim2real/``): ranges set from the gap
#: between generated and real input crops that ``tools/sim2real.py --gap`` measures (README,
#: "Generated hands for real images"). Real hand crops span far more than generated ones in
#: sharpness (CMU Panoptic's upscaled video frames are several times blurrier, MHP's webcam
#: frames sharper), brightness (OneHand10K's studio photos are bright and pale) and colour
#: cast, so the recipe blurs, downsamples or sharpens, shifts exposure, gamma, white balance
#: (black-body jitter) and saturation widely, and adds sensor noise and JPEG loss.
SIM2REAL: tuple[dict, ...] = (
    dict(type='RandomBrightnessContrast', brightness_limit=0.3, contrast_limit=0.3, p=0.7),
    dict(type='RandomGamma', gamma_limit=(70, 150), p=0.3),
    dict(type='HueSaturationValue', hue_shift_limit=10, sat_shift_limit=40, val_shift_limit=15,
         p=0.5),
    dict(type='PlanckianJitter', p=0.3),
    dict(type='ToGray', p=0.05),
    dict(type='OneOf', transforms=[
        dict(type='Downscale', scale_range=(0.25, 0.6)),
        dict(type='GaussianBlur', blur_limit=(3, 7)),
        dict(type='MotionBlur', blur_limit=(3, 9)),
        dict(type='Defocus', radius=(2, 4)),
    ], p=0.4),
    dict(type='Sharpen', p=0.15),
    dict(type='OneOf', transforms=[
        dict(type='GaussNoise', std_range=(0.01, 0.06), per_channel=False),
        dict(type='ISONoise'),
    ], p=0.3),
    dict(type='ImageCompression', quality_range=(30, 95), p=0.3),
)


#: Named recipes: ``PhotometricAug(transforms='photometric_distortion')`` in a config, or
#: ``--cfg-options ...transforms=photometric_distortion`` on the command line.
RECIPES: dict[str, tuple[dict, ...]] = {
    'default': DEFAULT_PHOTOMETRIC,
    'photometric_distortion': PHOTOMETRIC_DISTORTION,
    'sim2real': SIM2REAL,
}


def recipe(name: str) -> tuple[dict, ...]:
    """The transform configs of a named recipe; ``ValueError`` listing the names otherwise."""
    if name not in RECIPES:
        raise ValueError(f"PhotometricAug: unknown recipe '{name}'; named recipes are "
                         f"{', '.join(sorted(RECIPES))} (or give a list of transform dicts)")
    return RECIPES[name]


def _albumentations_class(name: str) -> type:
    cls = getattr(A, name, None)
    if not isinstance(cls, type) or not issubclass(cls, (BasicTransform, BaseCompose)):
        known = [n for n in dir(A) if isinstance(getattr(A, n), type)
                 and issubclass(getattr(A, n), (ImageOnlyTransform, BaseCompose))]
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ''
        raise ValueError(f"PhotometricAug: '{name}' is not an albumentations transform.{hint}")
    return cls


def build_photometric(cfg: dict | BasicTransform | BaseCompose) -> BasicTransform | BaseCompose:
    """One albumentations transform from ``dict(type=ClassName, **kwargs)``, checked.

    Compositions (``OneOf``, ``SomeOf``, ``Sequential``, ...) take a ``transforms`` list, built
    recursively. Anything that is not an ``ImageOnlyTransform`` raises ``ValueError``.
    """
    if isinstance(cfg, (BasicTransform, BaseCompose)):
        transform = cfg
    else:
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise ValueError(f'PhotometricAug: each transform must be a dict with a "type" '
                             f'(an albumentations class name), got {cfg!r}')
        kwargs = dict(cfg)
        cls = _albumentations_class(kwargs.pop('type'))
        if issubclass(cls, BaseCompose):
            kwargs['transforms'] = [build_photometric(c) for c in kwargs.get('transforms', [])]
        elif not issubclass(cls, ImageOnlyTransform):
            raise ValueError(
                f"PhotometricAug: '{cls.__name__}' is a spatial albumentations transform: it "
                'would move pixels without moving the keypoints. Use RandomFlip / '
                'RandomBBoxTransform for geometry; PhotometricAug takes ImageOnlyTransform '
                'classes only.')
        transform = cls(**kwargs)
    _check_photometric(transform)
    return transform


def _check_photometric(transform: Any) -> None:
    if isinstance(transform, BaseCompose):
        for child in transform.transforms:
            _check_photometric(child)
    elif not isinstance(transform, ImageOnlyTransform):
        raise ValueError(f"PhotometricAug: '{type(transform).__name__}' is not photometric "
                         '(not an albumentations ImageOnlyTransform)')


@TRANSFORMS.register_module()
class PhotometricAug(BaseTransform):
    """Apply albumentations photometric transforms to ``img`` (the crop); keypoints untouched.

    Args:
        transforms: albumentations configs, ``dict(type='RandomBrightnessContrast', p=0.5)``,
            or the name of one of :data:`RECIPES`; ``None`` gives :data:`DEFAULT_PHOTOMETRIC`.
    """

    def __init__(self, transforms: Sequence[dict] | str | None = None) -> None:
        if transforms is None:
            transforms = DEFAULT_PHOTOMETRIC
        elif isinstance(transforms, str):
            transforms = recipe(transforms)
        cfgs = [dict(c) if isinstance(c, dict) else c for c in transforms]
        self.transforms = cfgs
        self.compose = A.Compose([build_photometric(c) for c in cfgs], strict=False)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms!r})'

    def transform(self, results: dict) -> dict:
        if not self.transforms:  # transforms=[] (a benchmark row's "no photometric"): a no-op
            return results
        seed = int(np.random.randint(0, 2**31 - 1))
        self.compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        img = get_image(results)
        if img.dtype != np.uint8:  # albumentations reads float images as 0..1
            raise TypeError(f'PhotometricAug expects a uint8 image, got {img.dtype} '
                            '(drop LoadImage(to_float32=True))')
        results['img'] = self.compose(image=contiguous_image(img))['image']
        return results
