#!/usr/bin/env python
"""mmpose's side of ``tools/benchmark.py --vs-mmpose``: time mmpose on the same work.

Run by ``benchmark.py`` with an interpreter that can ``import mmpose`` (its own, or the one given
by ``--mmpose-python``); it reads one JSON job on stdin and prints one JSON result on stdout.
It imports nothing from poseforge (its one helper, ``_metric_timing``, needs only numpy), so it
runs in an environment that has only mmpose's stack (mmpose is never a dependency of
poseforge). Jobs:

- ``{"mode": "pipeline", "dataset": {...}, "iters": N}``: single-process samples/s of mmpose's
  ``dataset[i]`` (its ``BaseDataset`` copy of the annotation, then the pipeline), warm-up excluded;
- ``{"mode": "train", "model": {...}, "dataset": {...}, "batch_size": B, "iters": N}``: forward,
  backward and Adam step of mmpose's ``TopdownPoseEstimator`` on a collated real batch, FLOPs
  counted with torch's ``FlopCounterMode`` exactly as poseforge's benchmark counts its own;
- ``{"mode": "infer", ...}`` (same keys): its forward pass in eval mode (``mode='tensor'``);
- ``{"mode": "metrics", "num": N}``: mmpose's ``keypoint_pck_accuracy`` + ``keypoint_auc`` +
  ``keypoint_epe`` over N x 21 keypoints, with the metric values for a cross-check.

Each job may carry ``"threads"`` (torch and OpenCV threads, as poseforge's ``--threads``).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def _set_threads(n: int | None) -> None:
    if n:
        import cv2
        import torch
        torch.set_num_threads(n)
        cv2.setNumThreads(max(n - 1, 0) if n > 1 else 0)


def _build_dataset(cfg: dict):
    """mmpose's dataset from its config. mmpose finds its metainfo file by the relative path
    ``configs/_base_/datasets/<name>.py`` before its packaged copy, so the job runs from an
    empty directory (see :func:`main`) where poseforge's own ``configs/`` cannot shadow it."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    return DATASETS.build(cfg)


def time_pipeline(job: dict) -> dict:
    dataset = _build_dataset(job['dataset'])
    n, iters = len(dataset), int(job['iters'])
    for i in range(min(10, n)):
        dataset[i]
    start = time.perf_counter()
    for i in range(iters):
        dataset[i % n]
    elapsed = time.perf_counter() - start
    return dict(samples=iters, seconds=round(elapsed, 4), samples_per_s=round(iters / elapsed, 2))


def _model_and_batch(job: dict):
    """mmpose's model (``channels_last`` on request) and a collated batch of the job's data."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import MODELS

    dataset = _build_dataset(job['dataset'])
    batch_size = int(job['batch_size'])
    batch = pseudo_collate([dataset[i % len(dataset)] for i in range(batch_size)])
    model = MODELS.build(job['model'])
    if job.get('channels_last'):
        model = model.to(memory_format=torch.channels_last)
    return model, batch


def _timed(step, iters: int, batch_size: int) -> dict:
    """FLOPs of one ``step`` (torch's FlopCounterMode, as poseforge counts), two warm-up
    steps, then ``iters`` timed ones."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops = counter.get_total_flops()
    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    elapsed = time.perf_counter() - start
    return dict(batch_size=batch_size, iters=iters, seconds=round(elapsed, 4),
                samples_per_s=round(iters * batch_size / elapsed, 2),
                ms_per_image=round(elapsed / (iters * batch_size) * 1e3, 3),
                gflop_per_sample=round(flops / batch_size / 1e9, 3),
                gflops_per_s=round(flops * iters / elapsed / 1e9, 2))


def time_train(job: dict) -> dict:
    import torch
    model, batch = _model_and_batch(job)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        data = model.data_preprocessor(batch, training=True)
        if job.get('channels_last'):
            data['inputs'] = data['inputs'].contiguous(memory_format=torch.channels_last)
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return _timed(step, int(job['iters']), int(job['batch_size']))


def time_infer(job: dict) -> dict:
    """mmpose's forward pass (``mode='tensor'``: backbone + head, no decoding), eval mode."""
    import torch
    model, batch = _model_and_batch(job)
    model.eval()
    data = model.data_preprocessor(batch, training=False)
    inputs = data['inputs']
    if job.get('channels_last'):
        inputs = inputs.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def step() -> None:
        model(inputs, None, mode='tensor')

    return _timed(step, int(job['iters']), int(job['batch_size']))


def time_metrics(job: dict) -> dict:
    from _metric_timing import time_pck_auc_epe  # numpy only, beside this script
    from mmpose.evaluation.functional import (keypoint_auc, keypoint_epe,
                                              keypoint_pck_accuracy)
    return time_pck_auc_epe(keypoint_pck_accuracy, keypoint_auc, keypoint_epe,
                            int(job['num']), int(job.get('repeats', 3)))


MODES = {'pipeline': time_pipeline, 'train': time_train, 'infer': time_infer,
         'metrics': time_metrics}


def main() -> None:
    job = json.load(sys.stdin)
    if 'dataset' in job:
        job['dataset']['data_root'] = os.path.abspath(job['dataset']['data_root'])
    _set_threads(job.get('threads'))
    import numpy as np
    np.random.seed(0)
    import mmpose
    with tempfile.TemporaryDirectory(prefix='mmpose_reference_') as empty:
        os.chdir(empty)
        result = MODES[job['mode']](job)
    result.update(mode=job['mode'], mmpose=mmpose.__version__)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
