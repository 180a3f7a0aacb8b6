"""DGGAN through mmengine's runner on generated hands: a short joint run lowers the task loss and
beats the untrained model's 3D EPE, a resumed run gets both optimisers and the image pool back,
and ``tools/eval.py --vis`` draws the 3D skeletons and the generated depth beside the real one."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import pytest
import torch
from mmengine.hooks import Hook

from conftest import ROOT
from test_dggan import DEPTH, INPUT, tiny_dggan

from poseforge.datasets.transforms.presets import topdown_3d_pipelines
from poseforge.engine.checkpoint import safe_load
from poseforge.engine.runner import PoseRunner
from poseforge.utils.config import load_config

CONFIG = ROOT / 'configs' / 'dggan' / 'dggan_cpm-light_synth-hands-128_stage4-joint.py'
EPE_KEY = 'EPE3D/wrist/gt-root-depth+bone'


def tiny_config(data_root: Path, work_dir: Path, iters: int, **model) -> object:
    """The generated-hands joint-stage config, shrunk: 64 px crops, 32 px depth, tiny nets."""
    cfg = load_config(str(CONFIG))
    codec = dict(type='MSRAHeatmap', input_size=(INPUT, INPUT), heatmap_size=(8, 8), sigma=1.0)
    train, test = topdown_3d_pipelines(codec, padding=1.25, depth_format='mm_png',
                                       depth_map_size=(DEPTH, DEPTH), test_depth=True,
                                       rotate_factor=20.0, photometric=False)
    cfg.model = dict(tiny_dggan('joint', **model), data_preprocessor=dict(
        type='PoseDataPreprocessor'))
    for split, pipeline in (('train', train), ('val', test), ('test', test)):
        loader = cfg[f'{split}_dataloader']
        loader.dataset.data_root = str(data_root)
        loader.dataset.pipeline = pipeline
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = 8
    cfg.optim_wrapper.pose_net.optimizer = dict(type='Adam', lr=3e-3)
    for name in ('generator', 'discriminator', 'regularizer'):  # a short run: faster rates
        cfg.optim_wrapper[name].optimizer.lr = 1e-3
    cfg.load_from = None
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000,
                         val_begin=1000)  # no validation while training
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False,
                                        backend_args=dict(backend='atomic_local'))
    cfg.log_processor = dict(by_epoch=False)
    cfg.custom_hooks = []
    cfg.randomness = dict(seed=0)
    return cfg


def epe_3d(runner) -> float:
    """3D EPE (mm, granted root depth and bone) of the runner's model on the test split."""
    from poseforge.evaluation.metrics.keypoint_3d_metrics import Hand3DMetric
    metric = Hand3DMetric(scale_align=False)
    metric.dataset_meta = runner.test_dataloader.dataset.metainfo
    runner.model.eval()
    with torch.no_grad():
        for batch in runner.test_dataloader:
            metric.process(batch, runner.model.test_step(batch))
    return metric.evaluate(len(runner.test_dataloader.dataset))[EPE_KEY]


def task_loss(model, batch) -> float:
    model.eval()  # fixed BatchNorm statistics: the same batch gives comparable numbers
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        return float(model(data['inputs'], data['data_samples'], mode='loss')['loss_task'])


@pytest.fixture(scope='module')
def trained(tiny_synth, tmp_path_factory) -> dict:
    """One short joint-stage run (from scratch) with its before / after numbers."""
    work = tmp_path_factory.mktemp('dggan_run')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module scope: conftest's per-test setting is not active yet
    try:
        runner = PoseRunner.from_cfg(tiny_config(tiny_synth, work, iters=40))
        batch = next(iter(runner.build_dataloader(runner._train_dataloader)))
        before = dict(task=task_loss(runner.model, batch), epe=epe_3d(runner))
        runner.train()
        after = dict(task=task_loss(runner.model, batch), epe=epe_3d(runner))
    finally:
        torch.set_num_threads(threads)
    ckpt = Path((work / 'last_checkpoint').read_text().strip())
    return dict(before=before, after=after, ckpt=ckpt, work=work, data=tiny_synth)


def test_short_dggan_run_learns(trained):
    before, after = trained['before'], trained['after']
    assert after['task'] < 0.75 * before['task'], (before, after)
    assert after['epe'] < 0.8 * before['epe'], (before, after)


class _Capture(Hook):
    """Copies the runner's optimiser and pool state when training (re)starts."""

    def before_train(self, runner) -> None:
        self.iter = runner.iter
        self.optim = copy.deepcopy(runner.optim_wrapper.state_dict())
        self.pool = runner.model.image_pool.images.clone()
        self.pool_len = len(runner.model.image_pool)


def test_resume_restores_both_optimisers_and_the_pool(trained, tmp_path):
    saved = safe_load(trained['ckpt'])
    assert {'generator', 'discriminator', 'pose_net', 'regularizer'} <= set(saved['optimizer'])
    cfg = tiny_config(trained['data'], trained['work'], iters=41)
    cfg.resume, cfg.load_from = True, str(trained['ckpt'])
    runner = PoseRunner.from_cfg(cfg)
    capture = _Capture()
    runner.register_hook(capture)
    runner.train()
    assert capture.iter == 40
    for name in ('generator', 'discriminator'):
        state, restored = saved['optimizer'][name]['state'], capture.optim[name]['state']
        assert state.keys() == restored.keys()
        for key in state:
            assert torch.equal(state[key]['step'], restored[key]['step'])
            assert torch.equal(state[key]['exp_avg'], restored[key]['exp_avg'])
    # the pool's fill level and contents, so the discriminator's history goes on
    assert capture.pool_len == int(saved['state_dict']['image_pool.num_images']) == 4
    assert torch.equal(capture.pool, saved['state_dict']['image_pool.images'])
    assert runner.iter == 41


def test_eval_vis_draws_3d_skeletons_and_depth(trained, tmp_path):
    import eval as eval_tool
    cfg = tiny_config(trained['data'], tmp_path, iters=1)
    cfg_file = tmp_path / 'tiny_dggan.py'
    cfg.dump(str(cfg_file))
    metrics = eval_tool.main([str(cfg_file), str(trained['ckpt']), '--work-dir', str(tmp_path),
                              '--vis', '2'])
    assert EPE_KEY in metrics and 'EPE3D/wrist/no-gt' in metrics
    png = cv2.imread(str(tmp_path / 'predictions_3d.png'))
    assert png is not None
    # two rows: crop, two 3D views, the generated and the real depth map
    assert png.shape[0] >= 2 * 200 and png.shape[1] > 3 * png.shape[0] // 2
    assert json.loads((tmp_path / 'metrics.json').read_text())[EPE_KEY] == metrics[EPE_KEY]
