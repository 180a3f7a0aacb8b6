"""TASSN: forward / backward consistency, reprojection against a direct computation, a short
2D-only run that learns, configs that build, and the video tool's 3D outputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import ROOT
from poseforge.codecs.relative_depth import project_points
from poseforge.datasets.clips import ClipDataset, clip_collate, reverse_clip
from poseforge.datasets.transforms.presets import topdown_3d_pipelines
from poseforge.evaluation.metrics import Hand3DMetric
from poseforge.models.estimators.tassn import (TASSN, consistency_loss, crop_intrinsics,
                                               reprojection_loss, weak_perspective_fit)
from poseforge.registry import MODELS

CODEC = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=1.0)
DEPTH = dict(type='RelativeDepth')
# no augmentation: a few dozen steps must show learning, not robustness
TRAIN, _ = topdown_3d_pipelines(CODEC, DEPTH, rotate_factor=0.0, scale_factor=(1.0, 1.0),
                                shift_factor=0.0, flip=False, photometric=False)


pytestmark = pytest.mark.usefixtures('poseforge_scope_keeping_global_rngs')


def tiny_tassn(temporal: dict | None = None, **kwargs) -> TASSN:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='TASSN',
        backbone=dict(type='CPM', arch='light_s8', num_keypoints=21, num_stages=2),
        head=dict(type='MultiStageHeatmapHead', loss=dict(type='KeypointMSELoss'),
                  decoder=CODEC),
        depth_head=dict(type='RelativeDepthHead', in_channels=128, num_keypoints=21,
                        heatmap_size=(8, 8), stage_channels=32, stage_kernel=3,
                        stage_dilations=(1,), stage_norm=True, fc_channels=(64,)),
        depth_codec=DEPTH, temporal=temporal or dict(type='TemporalConv', hidden=32),
        **kwargs))


def clips(root, split='train', length=4, stride=4):
    return ClipDataset(dict(type='SynthHandDataset', data_root=str(root),
                            ann_file=f'annotations/{split}.json', pipeline=TRAIN),
                       clip_length=length, stride=stride)


def palindrome(clip: dict, order=(0, 1, 2, 1, 0)) -> dict:
    order = list(order)
    samples = {k: (v[order] if isinstance(v, torch.Tensor) else [v[i] for i in order])
               for k, v in clip['data_samples'].items()}
    return dict(inputs=clip['inputs'][order], data_samples=samples)


def consistency(model: TASSN, batch: dict) -> float:
    model.train()
    with torch.no_grad():
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
    return float(losses['loss_consistency'])


def test_consistency_is_zero_for_a_time_symmetric_model_on_a_palindrome(tiny_sequences):
    clip = clips(tiny_sequences, length=3, stride=3)[0]
    batch = clip_collate([palindrome(clip)])
    symmetric = tiny_tassn(loss_weights=dict(bone=0.0))
    with torch.no_grad():   # non-zero output layer, every kernel mirrored in time
        for conv in symmetric.temporal.body:
            if isinstance(conv, torch.nn.Conv1d):
                conv.weight.copy_(0.5 * (conv.weight + conv.weight.flip(-1)))
        symmetric.temporal.out.weight.normal_(0, 0.5)
    assert consistency(symmetric, batch) < 1e-6
    asymmetric = tiny_tassn(loss_weights=dict(bone=0.0))
    with torch.no_grad():
        asymmetric.temporal.out.weight.normal_(0, 0.5)
        asymmetric.temporal.body[0].weight[..., 0] += 1.0   # reads the past more
    gru = tiny_tassn(dict(type='TemporalGRU', hidden=16), loss_weights=dict(bone=0.0))
    with torch.no_grad():
        gru.temporal.out.weight.normal_(0, 0.5)
    assert consistency(gru, batch) > 1e-3        # causal: frame 0 sees itself, frame 4 all
    assert consistency(asymmetric, batch) > 1e-3
    # the backward poses are those of the whole model run on the reversed clip, re-reversed
    forward_clip = clip_collate([clip])
    for model in (gru, asymmetric):
        model.eval()
        with torch.no_grad():
            x = model.data_preprocessor(forward_clip, False)['inputs']
            _, fwd, bwd = model.forward_clip(x, backward=True)
            _, rev, _ = model.forward_clip(reverse_clip(dict(inputs=x))['inputs'])
        torch.testing.assert_close(bwd, rev.flip(1), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(fwd, bwd, atol=1e-4)
    # an untrained temporal module is the identity: the per-frame estimator, consistent
    assert consistency(tiny_tassn(loss_weights=dict(bone=0.0)), batch) == 0.0
    a, b = torch.zeros(2, 3, 21, 3), torch.zeros(2, 3, 21, 3)
    b[..., 2] = 3.0
    assert float(consistency_loss(a, b, torch.full((2, 3), 1.5))) == pytest.approx(2.0)


def test_reprojection_loss_against_a_direct_computation():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 40, (2, 5, 21, 3)) + np.array([0, 0, 500.0])
    K = np.array([[600.0, 0, 320], [0, 580, 240], [0, 0, 1]])
    labels = rng.uniform(0, 640, (2, 5, 21, 2))
    weights = (rng.random((2, 5, 21)) > 0.3).astype(np.float64)
    direct, count = 0.0, 0.0
    for idx in np.ndindex(2, 5, 21):
        X, Y, Z = points[idx]
        u, v = K[0, 0] * X / Z + K[0, 2], K[1, 1] * Y / Z + K[1, 2]
        direct += weights[idx] * np.hypot(u - labels[idx][0], v - labels[idx][1])
        count += weights[idx]
    loss = reprojection_loss(torch.as_tensor(points), torch.as_tensor(K),
                             torch.as_tensor(labels), torch.as_tensor(weights), norm=64.0)
    assert float(loss) == pytest.approx(direct / count / 64.0, rel=1e-9)
    # the crop's intrinsics project into crop px: the image projection through the inverse
    # of the crop's input_to_image affine
    angle, s = 0.3, 2.5
    affine = np.array([[s * np.cos(angle), -s * np.sin(angle), 100.0],
                       [s * np.sin(angle), s * np.cos(angle), 50.0]])
    crop_k = crop_intrinsics(torch.as_tensor(K), torch.as_tensor(affine))
    in_crop = project_points(torch.as_tensor(points[0, 0]), crop_k).numpy()
    in_image = project_points(points[0, 0], K)
    back = in_crop @ affine[:, :2].T + affine[:, 2]
    np.testing.assert_allclose(back, in_image, rtol=1e-9)
    # weak perspective: a known scale and shift are recovered exactly
    xy = torch.as_tensor(points[..., :2])
    fitted_s, fitted_t = weak_perspective_fit(torch.as_tensor(points), 3.0 * xy + 7.0,
                                              torch.ones(2, 5, 21))
    np.testing.assert_allclose(fitted_s.numpy(), 3.0)
    np.testing.assert_allclose(fitted_t.numpy(), 7.0)


def _epe(model: TASSN, batch: dict, metainfo: dict) -> float:
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(batch, False), mode='predict')
    model.train()
    metric = Hand3DMetric(scale_align=False)
    metric.dataset_meta = metainfo
    metric.process({}, preds)
    return metric.compute_metrics(metric.results)['EPE3D/wrist/gt-root-depth+bone']


@pytest.mark.slow
def test_a_short_2d_only_run_lowers_its_losses_and_beats_the_untrained_model(tiny_sequences):
    train, test = clips(tiny_sequences), clips(tiny_sequences, 'test')
    batches = [clip_collate([train[i] for i in range(j, min(j + 3, len(train)))])
               for j in range(0, len(train), 3)]
    for batch in batches:   # 2D labels only: no relative-depth target reaches the model
        batch['data_samples'].pop('keypoint_depth')
        batch['data_samples'].pop('keypoint_depth_weights')
    held_out = clip_collate([test[i] for i in range(len(test))])
    model = tiny_tassn()
    untrained = _epe(model, held_out, train.metainfo)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for step in range(60):
        losses = model(**model.data_preprocessor(batches[step % len(batches)], True),
                       mode='loss')
        assert 'loss_depth' not in losses
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append({k: float(v.detach()) for k, v in losses.items() if k.startswith('loss')})
    first, last = history[:len(batches)], history[-len(batches):]
    for key in ('loss_kpt', 'loss_reproj', 'loss_bone'):
        before, after = (np.mean([h[key] for h in part]) for part in (first, last))
        assert after < 0.6 * before, (key, before, after)
    trained = _epe(model, held_out, train.metainfo)
    assert trained < 0.7 * untrained, (untrained, trained)


@pytest.mark.parametrize('name', ['tassn_cpm-light_synth-seq-128.py',
                                  'tassn-3d_cpm-light_synth-seq-128.py',
                                  'hand3d_cpm-light_synth-seq-128.py',
                                  'tassn_cpm-vgg19_stb-seq-256.py',
                                  'tassn_cpm-vgg19_mhp-seq-256.py'])
def test_configs_build(name):
    from mmengine.config import Config
    cfg = Config.fromfile(str(ROOT / 'configs' / 'tassn' / name))
    model = MODELS.build(cfg.model)
    if cfg.model.type == 'TASSN':
        assert cfg.train_dataloader.dataset.type == 'ClipDataset'
        assert cfg.train_dataloader.collate_fn.type.endswith('clip_collate')
        assert isinstance(model, TASSN)
    evaluators = {e['type'] for e in cfg.val_evaluator}
    assert {'Hand3DMetric', 'TemporalSmoothness'} <= evaluators


@pytest.mark.slow
def test_video_tool_writes_video_json_and_trajectory_plot_for_a_clip_model(tiny_sequences,
                                                                           tmp_path):
    import json

    import cv2

    import video_demo
    from poseforge.apis import init_model
    from poseforge.generation.composite import cut_out_hand, moving_hands_video
    ann = json.loads((tiny_sequences / 'annotations' / 'test.json').read_text())
    image = ann['images'][0]
    rgb = cv2.imread(str(tiny_sequences / 'images' / 'test' / image['file_name']))
    mask = cv2.imread(str(tiny_sequences / 'masks' / 'test' / image['mask_file']),
                      cv2.IMREAD_GRAYSCALE)
    frames_count = 10
    centres = np.stack([60 + 4 * np.arange(frames_count), np.full(frames_count, 60)], 1)[:, None]
    frames, _ = moving_hands_video([cut_out_hand(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), mask, 0)],
                                   centres, 50.0, (160, 120))
    video = tmp_path / 'hand.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    config = str(ROOT / 'configs' / 'tassn' / 'tassn_cpm-light_synth-seq-128.py')
    torch.manual_seed(0)
    ckpt = tmp_path / 'tassn.pth'
    torch.save({'state_dict': init_model(config).state_dict()}, ckpt)
    out, doc, plot = tmp_path / 'out.avi', tmp_path / 'poses.json', tmp_path / 'traj.png'
    assert video_demo.main([config, str(ckpt), '--source', str(video), '--box', '20,10,140,110',
                            '--out', str(out), '--json-out', str(doc), '--plot3d', str(plot),
                            '--joints', '0,8', '--no-show']) == 0
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == frames_count
    data = json.loads(doc.read_text())
    assert [f['frame'] for f in data['frames']] == list(range(frames_count))
    for frame in data['frames']:
        assert np.asarray(frame['keypoints']).shape == (21, 2)
        points = np.asarray(frame['keypoints_3d'])
        assert points.shape == (21, 3) and np.isfinite(points).all() and (points[:, 2] > 0).all()
    assert np.asarray(data['camera_K']).shape == (3, 3)
    assert cv2.imread(str(plot)) is not None
