#!/usr/bin/env python
"""Measure the data pipeline, a training step, inference, or dataset generation.

    python tools/benchmark.py pipeline CONFIG [--iters N] [--threads 1] [--cfg-options ...]
                                              [--step-options TYPE.KEY=VALUE ...]
                                              [--codec-options KEY=VALUE ...]
    python tools/benchmark.py train    CONFIG [--iters N] [--batch-size B] [--threads N]
                                              [--device cpu|cuda] [--amp] [--channels-last]
                                              [--compile]
    python tools/benchmark.py ceiling  CONFIG [--batch-size B] [--threads N] [--amp] ...
    python tools/benchmark.py infer    CONFIG [--iters N] [--batch-size B] [--device ...]
    python tools/benchmark.py generate [--num N] [--size PX] [--views V]
    python tools/benchmark.py metrics  [--num N]      # PCK + AUC + EPE over N x 21 keypoints
    python tools/benchmark.py standard [--out docs/benchmarks.md]

Each mode prints one JSON object (``samples_per_s``; ``gflops_per_s`` for train/infer, counted
with torch's FlopCounterMode, forward + backward for train; on a GPU also ``mfu``, the model
FLOP utilisation against the device's dense bf16 peak, tools/_gpu_peaks.py, or
``--peak-tflops``). ``ceiling`` times every convolution of the same training step alone and
reports the step's FLOPs over their seconds: the rate the step could reach if nothing else took
time (tools/_conv_ceiling.py), the bound a GFLOP/s target has to sit under. ``standard`` runs the set the README
reports and writes it as a markdown table. Timings exclude a warm-up.

Pipeline steps are addressed by type, not by position: ``--step-options
PhotometricAug.transforms=[]`` sets ``transforms`` of every ``PhotometricAug`` step of every
dataloader (an error names the config's step types when none matches), and ``--codec-options
input_size=(368,368) heatmap_size=(46,46) sigma=1.0`` changes the codec everywhere it is used
(``codec``, ``model.head.decoder``, each ``GenerateTarget`` encoder and ``TopdownAffine`` size).

Side by side with mmpose (``pipeline``, ``train``, ``infer``, ``metrics`` and ``standard``)::

    python tools/benchmark.py pipeline CONFIG --vs-mmpose [--mmpose-python PY] [--rounds R]

runs mmpose's equivalent of the same work (tools/_mmpose_side.py says what "equivalent" means)
in an interpreter that imports mmpose, alternating with poseforge for ``R`` rounds, and adds
``mmpose`` (its result) and ``vs_mmpose`` (the ratio, best round of each) to the JSON.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import _mmpose_side as mmpose_side
from _gpu_peaks import utilisation_fields
from _metric_timing import time_pck_auc_epe
from _common import add_cfg_options, user_errors_exit
from _conv_ceiling import conv_ceiling, record_conv_calls
from _standard_benchmarks import run_standard
from mmengine.config import DictAction

import numpy as np
import torch


def _set_threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)
        import cv2
        cv2.setNumThreads(max(n - 1, 0) if n > 1 else 0)


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def pipeline_steps(cfg, step_type: str) -> list:
    """Every step of type ``step_type`` in the pipelines of the config's dataloaders."""
    return [step for loader in LOADERS if cfg.get(loader)
            for step in (cfg[loader].get('dataset') or {}).get('pipeline') or []
            if step.get('type') == step_type]


def _set_key(node, path: str, value) -> None:
    *parents, last = path.split('.')
    for key in parents:
        node = node[key]
    node[last] = value


def set_step_options(cfg, options: dict | None) -> None:
    """``{'TYPE.KEY': value}``: set ``KEY`` (dotted) of every pipeline step of type ``TYPE``, so
    that a benchmark row names the step it changes rather than its position in the list."""
    from poseforge.utils.config import ConfigError
    for spec, value in (options or {}).items():
        step_type, _, key = spec.partition('.')
        steps = pipeline_steps(cfg, step_type)
        if not key or not steps:
            types = sorted({step.get('type') for loader in LOADERS if cfg.get(loader)
                            for step in (cfg[loader].get('dataset') or {}).get('pipeline') or []})
            problem = ('expected TYPE.KEY=VALUE' if not key else
                       f"no pipeline step of type '{step_type}' (steps: {', '.join(types)})")
            raise ConfigError(f"--step-options '{spec}': {problem}")
        for step in steps:
            _set_key(step, key, value)


def set_codec_options(cfg, options: dict | None) -> None:
    """Change the codec's ``options`` wherever the config uses it: ``codec``,
    ``model.head.decoder``, every ``GenerateTarget`` encoder and, for ``input_size``, every
    ``TopdownAffine`` (one codec, one change)."""
    from poseforge.utils.config import ConfigError
    if not options:
        return
    codecs = [step['encoder'] for step in pipeline_steps(cfg, 'GenerateTarget')]
    codecs += [c for c in (cfg.get('codec'), ((cfg.get('model') or {}).get('head') or {})
                           .get('decoder')) if c is not None]
    if not codecs:
        raise ConfigError('--codec-options: the config has no codec (no GenerateTarget, '
                          'codec or model.head.decoder)')
    for codec in codecs:
        codec.update(options)
    if 'input_size' in options:
        for step in pipeline_steps(cfg, 'TopdownAffine'):
            step['input_size'] = options['input_size']


def load_benchmark_config(args: argparse.Namespace):
    """The config with ``--cfg-options``, then ``--codec-options`` and ``--step-options``."""
    from poseforge.utils.config import load_config
    cfg = load_config(args.config, args.cfg_options)
    set_codec_options(cfg, args.codec_options)
    set_step_options(cfg, args.step_options)
    return cfg


def _build_dataset(cfg, split: str):
    from mmengine.registry import init_default_scope

    from poseforge.registry import DATASETS
    init_default_scope('poseforge')
    return DATASETS.build(cfg[f'{split}_dataloader']['dataset'])


def bench_pipeline(cfg, iters: int, split: str = 'train') -> dict:
    """Single-process samples/s of ``dataset[i]`` (decode, augment, crop, targets, pack)."""
    dataset = _build_dataset(cfg, split)
    n = len(dataset)
    for i in range(min(10, n)):  # warm-up: file cache, lazy imports
        dataset[i]
    start = time.perf_counter()
    for i in range(iters):
        dataset[i % n]
    elapsed = time.perf_counter() - start
    return dict(mode='pipeline', split=split, samples=iters, seconds=round(elapsed, 4),
                samples_per_s=round(iters / elapsed, 2), threads=torch.get_num_threads())


def _model_and_batch(cfg, batch_size: int, device: str, channels_last: bool):
    from poseforge.datasets.collate import pose_collate
    from poseforge.registry import MODELS
    dataset = _build_dataset(cfg, 'train')
    batch = pose_collate([dataset[i % len(dataset)] for i in range(batch_size)])
    if device.startswith('cuda'):  # as PoseRunner's loader does: pinned, asynchronous copies
        torch.backends.cudnn.benchmark = True
        batch['inputs'] = batch['inputs'].pin_memory()
    model = MODELS.build(cfg.model).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        model.data_preprocessor.channels_last = True
    return model, batch


def _runs_channels_last(model, channels_last: bool) -> bool:
    """The layout a row reports: ``--channels-last``, or the config's data preprocessor making
    the inputs channels_last (the convolutions then run in that layout)."""
    return channels_last or bool(getattr(model.data_preprocessor, 'channels_last', False))


def _count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def _time_steps(step, iters: int, warmup: int, device: str) -> float:
    """Seconds for ``iters`` calls of ``step`` after ``warmup`` untimed ones (compilation,
    allocator and oneDNN primitive caches warm up there), synchronised on a GPU."""
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    return time.perf_counter() - start


def _rates(mode: str, flops: int, batch_size: int, iters: int, elapsed: float, **flags) -> dict:
    samples = iters * batch_size
    return dict(mode=mode, batch_size=batch_size, iters=iters, **flags,
                seconds=round(elapsed, 4), samples_per_s=round(samples / elapsed, 2),
                ms_per_image=round(elapsed / samples * 1e3, 3),
                gflop_per_sample=round(flops / batch_size / 1e9, 3),
                gflops_per_s=round(flops * iters / elapsed / 1e9, 2),
                threads=torch.get_num_threads())


def _maybe_compile(model: torch.nn.Module, compile_model: bool):
    """``torch.compile(model)`` for ``--compile`` (FLOPs are counted on the eager model)."""
    return torch.compile(model) if compile_model else model


def bench_train(cfg, iters: int, batch_size: int, device: str, amp: bool,
                channels_last: bool, compile_model: bool = False) -> dict:
    """Forward + backward + Adam step on a real batch; GFLOP/s from counted FLOPs."""
    model, batch = _model_and_batch(cfg, batch_size, device, channels_last)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device_type=device.split(':')[0], dtype=torch.bfloat16,
                              enabled=amp)

    def step(forward=model) -> None:
        data = model.data_preprocessor(batch, training=True)
        with autocast:
            losses = forward(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    flops = _count_flops(step)
    forward = _maybe_compile(model, compile_model)
    elapsed = _time_steps(lambda: step(forward), iters, 2, device)
    return _rates('train', flops, batch_size, iters, elapsed, device=device, amp=amp,
                  channels_last=_runs_channels_last(model, channels_last), compile=compile_model)


def bench_ceiling(cfg, batch_size: int, device: str, amp: bool, channels_last: bool,
                  repeats: int = 5) -> dict:
    """The convolution ceiling of ``bench_train``'s step (tools/_conv_ceiling.py): GFLOP/s
    = the step's counted FLOPs / the seconds its convolutions take, each timed alone."""
    model, batch = _model_and_batch(cfg, batch_size, device, channels_last)
    model.train()
    autocast = torch.autocast(device_type=device.split(':')[0], dtype=torch.bfloat16,
                              enabled=amp)

    def step() -> None:
        data = model.data_preprocessor(batch, training=True)
        with autocast:
            losses = model(**data, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    calls = record_conv_calls(model, step)
    flops = _count_flops(step)
    ceiling = conv_ceiling(calls, flops, device, repeats)
    result = _rates('ceiling', flops, batch_size, 1, ceiling.pop('conv_seconds'), device=device,
                    amp=amp, channels_last=_runs_channels_last(model, channels_last))
    return dict(result, **ceiling)  # gflops_per_s: the ceiling; seconds: the convolutions'


@torch.no_grad()
def bench_infer(cfg, iters: int, batch_size: int, device: str, amp: bool,
                channels_last: bool, compile_model: bool = False) -> dict:
    """Forward pass (``mode='tensor'``) on a real batch; GFLOP/s from counted FLOPs."""
    model, batch = _model_and_batch(cfg, batch_size, device, channels_last)
    model.eval()
    data = model.data_preprocessor(batch, training=False)
    autocast = torch.autocast(device_type=device.split(':')[0], dtype=torch.bfloat16,
                              enabled=amp)

    def step(forward=model) -> None:
        with autocast:
            forward(data['inputs'], mode='tensor')

    flops = _count_flops(step)
    if compile_model:  # inference only: inductor folds each BN into the convolution before it
        import torch._inductor.config as inductor_config  # and prepacks the weights (oneDNN)
        inductor_config.freezing = True
    forward = _maybe_compile(model, compile_model)
    elapsed = _time_steps(lambda: step(forward), iters, 2 if compile_model else 1, device)
    return _rates('infer', flops, batch_size, iters, elapsed, device=device, amp=amp,
                  channels_last=_runs_channels_last(model, channels_last), compile=compile_model)


def bench_generate(num: int, size: int, views: int) -> dict:
    """Rendered images per second on one process (one core)."""
    from poseforge.generation.synth_hands import generate_dataset
    from poseforge.generation.template import hand_template
    hand_template()  # the one-off template build is not part of the per-image cost
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        generate_dataset(out, num=num, views=views, seed=0, size=size, workers=1)
        elapsed = time.perf_counter() - start
    images = num * views
    return dict(mode='generate', images=images, size=size, seconds=round(elapsed, 3),
                images_per_s=round(images / elapsed, 2), samples_per_s=round(images / elapsed, 2))


def bench_metrics(num: int, repeats: int = 5) -> dict:
    """PCK@0.2 + AUC + EPE over ``num`` instances x 21 keypoints (best of ``repeats``)."""
    from poseforge.evaluation.functional import (keypoint_auc, keypoint_epe,
                                                 keypoint_pck_accuracy)
    timing = time_pck_auc_epe(keypoint_pck_accuracy, keypoint_auc, keypoint_epe, num, repeats)
    return dict(mode='metrics', **timing)


# --------------------------------------------------------------------------- side by side
def _best(results: list[dict], mode: str) -> dict:
    """The best round: fewest seconds for metrics, most samples/s otherwise."""
    if mode == 'metrics':
        return min(results, key=lambda r: r['seconds'])
    return max(results, key=lambda r: r['samples_per_s'])


def side_by_side_ratio(mode: str, ours: dict, theirs: dict) -> float:
    """poseforge / mmpose: samples/s (pipeline), GFLOP/s (train, infer: each side runs its own
    network of the family), inverse seconds (metrics)."""
    if mode == 'metrics':
        return theirs['seconds'] / ours['seconds']
    key = 'gflops_per_s' if mode in ('train', 'infer', 'ceiling') else 'samples_per_s'
    return ours[key] / theirs[key]


def metric_values_match(ours: dict, theirs: dict, rtol: float = 1e-5) -> bool:
    """Whether both libraries computed the same PCK / AUC / EPE on the same data."""
    return all(abs(ours[k] - theirs[k]) <= rtol * max(1.0, abs(theirs[k])) for k in theirs)


def run_side_by_side(mode: str, ours_fn, job: dict, python: str, rounds: int) -> dict:
    """Alternate poseforge and mmpose ``rounds`` times (so drifts in machine load hit both) and
    report the best round of each with the ratio."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(ours_fn())
        theirs.append(mmpose_side.run_mmpose_job(python, job))
    best_ours, best_theirs = _best(ours, mode), _best(theirs, mode)
    result = dict(best_ours, rounds=rounds, mmpose=best_theirs,
                  vs_mmpose=round(side_by_side_ratio(mode, best_ours, best_theirs), 2))
    if mode == 'metrics':
        result['values_match'] = metric_values_match(best_ours['values'], best_theirs['values'])
    return result


def mmpose_job(args: argparse.Namespace, cfg) -> dict:
    """The mmpose job equivalent to this invocation (see tools/_mmpose_side.py)."""
    threads = args.threads
    if args.mode == 'metrics':
        return mmpose_side.metrics_job(args.num, threads)
    split = args.split if args.mode == 'pipeline' else 'train'
    dataset_cfg = cfg[f'{split}_dataloader']['dataset']
    if args.mode == 'pipeline':
        return mmpose_side.pipeline_job(dataset_cfg, args.iters or 200, threads)
    if args.device != 'cpu':
        raise mmpose_side.MmposeUnavailable(
            f'--vs-mmpose {args.mode} runs on the CPU only (the GPU side is not wired); '
            'drop --device')
    num_keypoints = _build_dataset(cfg, 'train').metainfo['num_keypoints']
    # mmpose runs fp32 on a CPU (mmengine's AmpOptimWrapper needs a GPU) and in its default
    # NCHW layout unless --mmpose-channels-last asks for the layout poseforge uses.
    iters = args.iters or (5 if args.mode in ('train', 'ceiling') else 10)
    # a ceiling is compared with the rate mmpose's training step reaches
    mode = 'train' if args.mode == 'ceiling' else args.mode
    return mmpose_side.train_job(dataset_cfg, num_keypoints, args.batch_size, iters, threads,
                                 args.mmpose_channels_last, model_cfg=cfg.model, mode=mode)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mode', choices=['pipeline', 'train', 'ceiling', 'infer', 'generate',
                                         'metrics', 'standard'])
    parser.add_argument('config', nargs='?')
    parser.add_argument('--iters', type=int, default=None)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='train/infer: torch.compile the model (FLOPs counted eagerly; '
                             'infer freezes it: BN folded into convolutions)')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=50)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--views', type=int, default=2)
    parser.add_argument('--out', help='standard: markdown table file')
    parser.add_argument('--vs-mmpose', action='store_true',
                        help="also time mmpose's equivalent, alternating, and report the ratio")
    parser.add_argument('--mmpose-python', default=None,
                        help='interpreter that imports mmpose (default: $POSEFORGE_MMPOSE_PYTHON, '
                             'then this one)')
    parser.add_argument('--rounds', type=int, default=None,
                        help='repeat the measurement, keep the best; with --vs-mmpose, '
                             'alternations of the two (default 1; --vs-mmpose 5, train 1)')
    parser.add_argument('--mmpose-channels-last', action='store_true',
                        help='--vs-mmpose train: run mmpose channels_last too (it runs NCHW)')
    add_cfg_options(parser)
    parser.add_argument('--step-options', nargs='+', action=DictAction, default=None,
                        metavar='TYPE.KEY=VALUE',
                        help='set KEY of every pipeline step of type TYPE, e.g. '
                             'PhotometricAug.transforms=[]')
    parser.add_argument('--codec-options', nargs='+', action=DictAction, default=None,
                        metavar='KEY=VALUE',
                        help='change the codec wherever it is used (decoder, targets, crop '
                             'size), e.g. input_size=(368,368) heatmap_size=(46,46) sigma=1.0')
    parser.add_argument('--resume', action='store_true',
                        help='standard: reuse the rows of OUT.rows.jsonl measured with the same '
                             'arguments (an interrupted or partly failed run), run the rest')
    parser.add_argument('--peak-tflops', type=float, default=None,
                        help="train/infer: the device's peak TFLOP/s for mfu (achieved / peak); "
                             "on a GPU the table's dense bf16 peak of the device by default")
    args = parser.parse_args(argv)
    if args.mode in ('pipeline', 'train', 'ceiling', 'infer') and not args.config:
        parser.error(f'{args.mode} needs a CONFIG')
    if args.vs_mmpose and args.mode not in ('pipeline', 'train', 'ceiling', 'infer', 'metrics',
                                            'standard'):
        parser.error('--vs-mmpose compares pipeline, train (and its ceiling), infer and '
                     f'metrics, not {args.mode}')
    return args


def _poseforge_bench(args: argparse.Namespace, cfg):
    """A no-argument callable running this invocation's poseforge measurement."""
    if args.mode == 'generate':
        return lambda: bench_generate(args.num, args.size, args.views)
    if args.mode == 'metrics':
        return lambda: bench_metrics(args.num)
    if args.mode == 'pipeline':
        return lambda: bench_pipeline(cfg, args.iters or 200, args.split)
    if args.mode == 'ceiling':
        return lambda: bench_ceiling(cfg, args.batch_size, args.device, args.amp,
                                     args.channels_last)
    if args.mode == 'train':
        return lambda: bench_train(cfg, args.iters or 5, args.batch_size, args.device,
                                   args.amp, args.channels_last, args.compile)
    return lambda: bench_infer(cfg, args.iters or 10, args.batch_size, args.device, args.amp,
                               args.channels_last, args.compile)


def main(argv=None) -> dict | list:
    args = parse_args(argv)
    _set_threads(args.threads)
    np.random.seed(0)
    with user_errors_exit('benchmark.py'):
        python = mmpose_side.find_mmpose_python(args.mmpose_python) if args.vs_mmpose else None
        if args.mode == 'standard':
            return run_standard(args.out, python, resume=args.resume)
        cfg = load_benchmark_config(args) if args.config else None
        ours = _poseforge_bench(args, cfg)
        if python is None:  # alone: best of --rounds (default 1)
            rounds = args.rounds or 1
            result = dict(_best([ours() for _ in range(rounds)], args.mode), rounds=rounds)
        else:
            rounds = args.rounds or {'train': 1, 'ceiling': 1, 'infer': 3}.get(args.mode, 5)
            result = run_side_by_side(args.mode, ours, mmpose_job(args, cfg), python, rounds)
        result['config'] = args.config
        if args.mode in ('train', 'ceiling', 'infer'):  # model FLOP utilisation (tools/_gpu_peaks.py)
            result.update(utilisation_fields(result, args.device, args.peak_tflops))
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
