"""A few OKDHP training iterations, alone or as one rank of a gloo process group.

    python -m torch.distributed.run --nproc_per_node 2 tests/okdhp_ddp_worker.py DATA OUT.json

(and :func:`loss_curve` in-process for one process). Every rank takes its share of a fixed,
unaugmented batch through mmengine's ``DefaultSampler``, steps through ``train_step`` of
``MMDistributedDataParallel`` (what the Runner runs), and the mean of the ranks' losses is
recorded per iteration: with equal shares that mean is the one-process loss on the whole batch.
BatchNorm runs on its running statistics here (eval mode), since per-rank batch statistics
would differ from whole-batch ones by design (no SyncBatchNorm on the CPU); SGD instead of Adam
keeps the comparison free of Adam's sign amplification of round-off in near-zero gradients.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'okdhp' / 'okdhp-light_hg2_synth-hands-64.py'
SAMPLES, BATCH, ITERS = 8, 4, 4


def build(data_root: str):
    from mmengine.dataset import DefaultSampler
    from mmengine.registry import init_default_scope

    from poseforge.datasets.transforms.presets import topdown_test_pipeline
    from poseforge.registry import DATASETS, MODELS
    from poseforge.utils.config import load_config
    init_default_scope('poseforge')
    cfg = load_config(str(CONFIG), {'model.student.backbone.channels': 16})
    codec = cfg.model.student.head.decoder
    pipeline = topdown_test_pipeline(codec)
    pipeline.insert(-1, dict(type='GenerateTarget', encoder=codec))
    dataset = DATASETS.build(dict(type='SynthHandDataset', data_root=data_root,
                                  ann_file='annotations/train.json', pipeline=pipeline,
                                  indices=SAMPLES))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    return model, dataset, DefaultSampler(dataset, shuffle=False)


def loss_curve(data_root: str, world_size: int = 1) -> dict:
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    from torch.nn.modules.batchnorm import _BatchNorm

    from poseforge.datasets.collate import pose_collate
    model, dataset, sampler = build(data_root)
    model.train()
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.eval()
    if world_size > 1:
        model = MMDistributedDataParallel(module=model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    indices = list(sampler)  # this rank's share, in order
    per_rank = BATCH // world_size
    curve: dict[str, list[float]] = {}
    for it in range(ITERS):
        start = (it * per_rank) % len(indices)
        batch = pose_collate([dataset[i] for i in indices[start:start + per_rank]])
        log = model.train_step(batch, optim)
        for key, value in log.items():
            value = torch.as_tensor(value, dtype=torch.float64).clone()
            if world_size > 1:
                dist.all_reduce(value)
                value /= world_size
            curve.setdefault(key, []).append(value.item())
    module = model.module if world_size > 1 else model
    checksum = torch.stack([p.detach().double().sum() for p in module.parameters()])
    if world_size > 1:  # every rank ends with the same weights
        gathered = [torch.zeros_like(checksum) for _ in range(world_size)]
        dist.all_gather(gathered, checksum)
        curve['ranks_agree'] = [float(all(torch.equal(g, gathered[0]) for g in gathered))]
    return curve


def main() -> None:
    data_root, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    dist.init_process_group('gloo')
    world_size, rank = dist.get_world_size(), dist.get_rank()
    curve = loss_curve(data_root, world_size)
    if rank == 0:
        Path(out).write_text(json.dumps(dict(world_size=world_size, curve=curve)))
    dist.destroy_process_group()


if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    main()
