"""The mmpose side of ``tools/benchmark.py --vs-mmpose``: equivalent jobs and their runner.

A poseforge config is translated into the job ``tools/mmpose_reference.py`` runs with mmpose:
the same annotation file and images, mmpose's transform of the same name and arguments for each
step, its own network of the same family (CPM, stacked hourglass) for the training step and
inference. A step with no mmpose counterpart stops the comparison
with an error naming it, rather than comparing different work. mmpose runs in whatever
interpreter can import it (``--mmpose-python``), so it never has to share poseforge's
environment.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from poseforge.utils.config import ConfigError

REFERENCE_SCRIPT = Path(__file__).resolve().with_name('mmpose_reference.py')

#: poseforge dataset type -> mmpose dataset type, for the json layouts both read.
DATASET_TYPES = {
    'OneHand10KDataset': 'OneHand10KDataset',
    'CocoDataset': 'CocoDataset',
    'MpiiDataset': 'MpiiDataset',
    'RhdDataset': 'Rhd2DDataset',
    'PanopticHandDataset': 'PanopticHand2DDataset',
}

#: mmpose's PoseDataPreprocessor setting in its CPM configs (ImageNet mean/std, RGB).
_MMPOSE_PREPROCESSOR = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


class MmposeUnavailable(ConfigError):
    """No interpreter at hand imports mmpose: the side-by-side mode cannot run."""


def _plain(value: Any) -> Any:
    """Config values as JSON-able Python (ConfigDict -> dict, tuple -> list)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def mmpose_codec(encoder: Mapping) -> dict:
    """mmpose's ``MSRAHeatmap`` for poseforge's: same sizes, sigma and blur.

    ``unbiased`` is left at mmpose's default ``False`` whatever poseforge's says: in poseforge it
    selects DARK *decoding* (its encoder is always sub-pixel exact), while in mmpose it also
    swaps in a slower whole-map Gaussian encoder. The data path is compared with mmpose's faster
    default encoder, the one its hand configs use, so the ratio is not flattered.
    """
    from poseforge.datasets.transforms.target import build_codec
    if encoder.get('type') != 'MSRAHeatmap':
        raise ConfigError(f"--vs-mmpose: codec '{encoder.get('type')}' has no mmpose counterpart "
                          '(only MSRAHeatmap targets can be compared)')
    codec = build_codec(dict(encoder))
    return dict(type='MSRAHeatmap', input_size=list(codec.input_size),
                heatmap_size=list(codec.heatmap_size), sigma=float(codec.sigma),
                blur_kernel_size=int(codec.blur_kernel_size))


def _photometric(step: Mapping) -> dict | None:
    from poseforge.datasets.transforms.photometric import PHOTOMETRIC_DISTORTION, PhotometricAug
    transforms = PhotometricAug(step.get('transforms')).transforms
    if not transforms:
        return None
    if _plain(transforms) == _plain(PHOTOMETRIC_DISTORTION):
        return dict(type='PhotometricDistortion')
    raise ConfigError(
        '--vs-mmpose: this PhotometricAug has no mmpose counterpart; compare with '
        "transforms='photometric_distortion' (mmpose's PhotometricDistortion recipe) or "
        'transforms=[] (none)')


def _random_bbox_transform(step: Mapping) -> dict:
    """All of the arguments, taken from poseforge's transform, so defaults cannot drift."""
    from poseforge.datasets.transforms import RandomBBoxTransform
    t = RandomBBoxTransform(**{k: v for k, v in step.items() if k != 'type'})
    return dict(type='RandomBBoxTransform', shift_factor=t.shift_factor, shift_prob=t.shift_prob,
                scale_factor=list(t.scale_factor), scale_prob=t.scale_prob,
                rotate_factor=t.rotate_factor, rotate_prob=t.rotate_prob)


def mmpose_transform(step: Mapping, pixels_matter: bool = True) -> dict | None:
    """mmpose's transform doing what poseforge's ``step`` does (``None``: a step to leave out).

    ``LoadImage(reduce=...)`` becomes a plain ``LoadImage``: reduced-size decoding is one of
    poseforge's own speed-ups, not different work. With ``pixels_matter=False`` (a batch for
    the training-step benchmark, whose timing does not depend on the pixel values) photometric
    steps are left out instead of having to match.
    """
    kind = step.get('type')
    if kind == 'PhotometricAug' and not pixels_matter:
        return None
    if kind == 'LoadImage':
        return dict(type='LoadImage', to_float32=bool(step.get('to_float32', False)))
    if kind == 'GetBBoxCenterScale':
        return dict(type='GetBBoxCenterScale', padding=float(step.get('padding', 1.25)))
    if kind == 'RandomFlip':
        return dict(type='RandomFlip', prob=float(step.get('prob', 0.5)),
                    direction=step.get('direction', 'horizontal'))
    if kind == 'RandomBBoxTransform':
        return _random_bbox_transform(step)
    if kind == 'TopdownAffine':
        return dict(type='TopdownAffine', input_size=list(step['input_size']),
                    use_udp=bool(step.get('use_udp', False)))
    if kind == 'PhotometricAug':
        return _photometric(step)
    if kind == 'GenerateTarget':
        return dict(type='GenerateTarget', encoder=mmpose_codec(step['encoder']))
    if kind == 'PackPoseInputs':
        return dict(type='PackPoseInputs')
    raise ConfigError(f"--vs-mmpose: pipeline step '{kind}' has no mmpose counterpart")


def mmpose_dataset(dataset_cfg: Mapping, pixels_matter: bool = True) -> dict:
    """mmpose's dataset config reading the same json and images through the mapped pipeline."""
    kind = dataset_cfg.get('type')
    if kind not in DATASET_TYPES:
        raise ConfigError(f"--vs-mmpose: dataset '{kind}' has no mmpose counterpart here "
                          f"(comparable: {', '.join(sorted(DATASET_TYPES))})")
    ann_file = str(dataset_cfg.get('ann_file', ''))
    if not ann_file.endswith('.json'):
        raise ConfigError(f"--vs-mmpose: mmpose reads its converted json; '{ann_file}' is not one")
    prefix = dataset_cfg.get('data_prefix') or {}
    pipeline = [mmpose_transform(step, pixels_matter) for step in dataset_cfg.get('pipeline', [])]
    return dict(type=DATASET_TYPES[kind], data_root=os.path.abspath(dataset_cfg['data_root']),
                ann_file=ann_file, data_mode='topdown',
                data_prefix=dict(img=str(prefix.get('img', ''))),
                test_mode=bool(dataset_cfg.get('test_mode', False)),
                pipeline=[step for step in pipeline if step is not None])


def mmpose_cpm(num_keypoints: int, codec: Mapping) -> dict:
    """mmpose's CPM (the 6-stage original of its ``cpm_*`` configs) for ``num_keypoints``."""
    return dict(type='TopdownPoseEstimator', data_preprocessor=dict(_MMPOSE_PREPROCESSOR),
                backbone=dict(type='CPM', in_channels=3, out_channels=num_keypoints,
                              feat_channels=128, num_stages=6),
                head=dict(type='CPMHead', in_channels=num_keypoints, out_channels=num_keypoints,
                          num_stages=6, deconv_out_channels=None, final_layer=None,
                          loss=dict(type='KeypointMSELoss', use_target_weight=True),
                          decoder=dict(codec)))


def mmpose_hourglass(num_keypoints: int, codec: Mapping, num_stacks: int) -> dict:
    """mmpose's stacked hourglass with ``num_stacks`` stacks, as its ``td-hm_hourglass52``
    configs build it (``HourglassNet``: CornerNet's hourglass, 5 downsamplings, 256-512
    channels; a ``CPMHead`` 1x1 score conv per stack, each supervised)."""
    return dict(type='TopdownPoseEstimator', data_preprocessor=dict(_MMPOSE_PREPROCESSOR),
                backbone=dict(type='HourglassNet', num_stacks=int(num_stacks)),
                head=dict(type='CPMHead', in_channels=256, out_channels=num_keypoints,
                          num_stages=int(num_stacks), deconv_out_channels=None,
                          loss=dict(type='KeypointMSELoss', use_target_weight=True),
                          decoder=dict(codec)))


def mmpose_model(model_cfg: Mapping, num_keypoints: int, codec: Mapping) -> dict:
    """mmpose's model of the same family as poseforge's ``model_cfg``, or a ``ConfigError``
    naming the backbone that has none. The two networks of a family differ (mmpose's CPM and
    hourglass are not the NSRM authors' or Newell's), so a training or inference comparison is
    in achieved GFLOP/s, each side running its own network."""
    backbone = dict((model_cfg or {}).get('backbone') or {})
    kind = backbone.get('type')
    if kind == 'CPM':
        return mmpose_cpm(num_keypoints, codec)
    if kind == 'StackedHourglass':
        return mmpose_hourglass(num_keypoints, codec, backbone.get('num_stacks', 2))
    raise ConfigError(f"--vs-mmpose: model backbone '{kind}' has no mmpose counterpart "
                      "(comparable: 'CPM', 'StackedHourglass')")


def _generate_target_codec(pipeline: list[dict]) -> dict:
    for step in pipeline:
        if step['type'] == 'GenerateTarget':
            return step['encoder']
    raise ConfigError('--vs-mmpose train: the pipeline makes no targets (no GenerateTarget)')


def pipeline_job(dataset_cfg: Mapping, iters: int, threads: int | None) -> dict:
    return dict(mode='pipeline', dataset=mmpose_dataset(dataset_cfg), iters=iters,
                threads=threads)


def train_job(dataset_cfg: Mapping, num_keypoints: int, batch_size: int, iters: int,
              threads: int | None, channels_last: bool, model_cfg: Mapping | None = None,
              mode: str = 'train') -> dict:
    """mmpose's training step (``mode='train'``) or forward pass (``'infer'``) on a batch of
    the same data, with mmpose's model of the family of ``model_cfg`` (CPM when omitted)."""
    dataset = mmpose_dataset(dataset_cfg, pixels_matter=False)
    codec = _generate_target_codec(dataset['pipeline'])
    model = (mmpose_model(model_cfg, num_keypoints, codec) if model_cfg is not None
             else mmpose_cpm(num_keypoints, codec))
    return dict(mode=mode, dataset=dataset, batch_size=batch_size, iters=iters,
                threads=threads, channels_last=channels_last, model=model)


def metrics_job(num: int, threads: int | None) -> dict:
    return dict(mode='metrics', num=num, threads=threads)


# --------------------------------------------------------------------------- running it
def _imports_mmpose(python: str) -> bool:
    try:
        return subprocess.run([python, '-c', 'import mmpose'], capture_output=True,
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_mmpose_python(requested: str | None = None) -> str:
    """The interpreter to run mmpose with: ``requested``, ``$POSEFORGE_MMPOSE_PYTHON``, or this
    one; ``MmposeUnavailable`` saying how to provide one when none imports mmpose."""
    candidates = [requested] if requested else [os.environ.get('POSEFORGE_MMPOSE_PYTHON'),
                                                sys.executable]
    for python in filter(None, candidates):
        if _imports_mmpose(python):
            return python
    tried = ', '.join(filter(None, candidates))
    raise MmposeUnavailable(
        f'--vs-mmpose needs a Python that can import mmpose (tried: {tried}). Install mmpose '
        'in another environment and pass --mmpose-python /path/to/its/python (or set '
        'POSEFORGE_MMPOSE_PYTHON); docs/benchmarks.md shows the one used for the README.')


def run_mmpose_job(python: str, job: dict, timeout: float | None = None) -> dict:
    """Run ``job`` through ``tools/mmpose_reference.py`` under ``python``; its JSON result."""
    proc = subprocess.run([python, str(REFERENCE_SCRIPT)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"mmpose's side of the benchmark failed ({python}):\n"
                           f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])
