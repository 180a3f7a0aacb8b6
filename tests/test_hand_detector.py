"""The hand detector: box codec, composited training data, hand-box files, box AP, training."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from conftest import ROOT, as_cli

from poseforge.codecs.center_box import CenterBoxCodec, box_iou
from poseforge.datasets.collate import pose_collate
from poseforge.datasets.transforms.detection import detection_pipelines, letterbox_matrix
from poseforge.registry import DATASETS, METRICS, MODELS

DET_CONFIG = str(ROOT / 'configs' / 'detector' / 'center-hand_synth-hands-256x192.py')
SMALL_CODEC = dict(type='CenterBoxCodec', input_size=(128, 96), stride=8)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_decoding_hand_made_outputs_gives_the_expected_boxes():
    codec = CenterBoxCodec(input_size=(64, 48), stride=8)              # 8 x 6 cells
    heat = torch.full((1, 1, 6, 8), _logit(0.01))
    maps = torch.zeros(1, 5, 6, 8)
    # hand A: centre cell (2, 1), offset (0.5, 0.25), 16 x 24 px, left (side logit +3)
    heat[0, 0, 1, 2] = _logit(0.9)
    maps[0, :, 1, 2] = torch.tensor([np.log(16 / 8), np.log(24 / 8), 0.5, 0.25, 3.0])
    # hand B: centre cell (6, 4), offset (0, 0), 32 x 8 px, right (side logit -3)
    heat[0, 0, 4, 6] = _logit(0.6)
    maps[0, :, 4, 6] = torch.tensor([np.log(32 / 8), np.log(8 / 8), 0.0, 0.0, -3.0])
    # a weaker neighbour of A is not a peak (3x3 max-pool), a lone 0.2 is below threshold
    heat[0, 0, 1, 3] = _logit(0.5)
    heat[0, 0, 5, 0] = _logit(0.2)
    out = codec.batch_decode(heat, maps, max_det=10, score_thr=0.3)[0]
    centre_a = np.array([2.5, 1.25]) * 8
    expected = np.array([[*(centre_a - [8, 12]), *(centre_a + [8, 12])],
                         [48 - 16, 32 - 4, 48 + 16, 32 + 4]], np.float32)
    np.testing.assert_allclose(out['boxes'], expected, atol=1e-4)
    np.testing.assert_allclose(out['scores'], [0.9, 0.6], atol=1e-6)
    assert out['left_prob'][0] > 0.9 and out['left_prob'][1] < 0.1


def test_encoding_then_decoding_recovers_boxes_and_sides():
    codec = CenterBoxCodec(input_size=(128, 96), stride=8)
    boxes = np.array([[10, 12, 50, 60], [70, 20, 120, 45]], np.float32)
    t = codec.encode(boxes, np.array([1, 0]))
    assert (t['box_weight'] == 1).sum() == 2 and t['heatmap'].max() == 1.0
    logits = torch.from_numpy(np.log(np.clip(t['heatmap'], 1e-4, 1 - 1e-4)
                                     / np.clip(1 - t['heatmap'], 1e-4, 1)))[None]
    maps = torch.from_numpy(t['box_target'])[None].clone()
    maps[:, 4] = torch.where(maps[:, 4] > 0.5, 5.0, -5.0)
    out = codec.batch_decode(logits, maps, score_thr=0.5)[0]
    order = np.argsort(out['boxes'][:, 0])
    np.testing.assert_allclose(out['boxes'][order], boxes, atol=1e-3)
    assert (out['left_prob'][order] > 0.5).tolist() == [True, False]


def test_a_peak_one_cell_off_the_centre_still_decodes_the_true_box():
    """Size and offset are regressed around the centre (TTFNet), not at its cell alone: a
    predicted peak on any neighbour of the centre cell decodes the same box (with centre-only
    targets it decoded a box shifted by a stride, of the size 8 x 8)."""
    codec = CenterBoxCodec(input_size=(128, 96), stride=8)
    boxes = np.array([[20, 14, 44, 50], [70, 30, 118, 62]], np.float32)  # 24x36 and 48x32 px
    t = codec.encode(boxes, np.array([1, 0]))
    centre_cells = np.argwhere(t['heatmap'][0] == 1)                     # (y, x)
    maps = torch.from_numpy(t['box_target'])[None].clone()
    maps[:, 4] = torch.where(maps[:, 4] > 0.5, 5.0, -5.0)
    for dy, dx in ((0, 1), (1, 0), (-1, -1), (1, -1)):
        heat = torch.full((1, 1, 12, 16), _logit(0.01))
        for y, x in centre_cells:
            heat[0, 0, y + dy, x + dx] = _logit(0.9)
        out = codec.batch_decode(heat, maps, score_thr=0.5)[0]
        order = np.argsort(out['boxes'][:, 0])
        np.testing.assert_allclose(out['boxes'][order], boxes, atol=1e-3)
        assert (out['left_prob'][order] > 0.5).tolist() == [True, False]
    # the weights are the Gaussian: 1 at the centre, less around it, 0 far away
    weight = t['box_weight'][0]
    y, x = centre_cells[0]
    assert weight[y, x] == 1 and 0 < weight[y, x + 1] < 1 and weight[0, 0] == 0
    # CenterNet's centre-only targets (region='centre'): one cell per box, and a peak one
    # cell off decodes a wrong box
    centre_only = CenterBoxCodec(input_size=(128, 96), stride=8, region='centre')
    t = centre_only.encode(boxes, np.array([1, 0]))
    assert t['box_weight'].sum() == 2
    heat = torch.full((1, 1, 12, 16), _logit(0.01))
    for y, x in centre_cells:
        heat[0, 0, y, x + 1] = _logit(0.9)
    out = centre_only.batch_decode(heat, torch.from_numpy(t['box_target'])[None],
                                   score_thr=0.5)[0]
    assert box_iou(out['boxes'], boxes).max(1).max() < 0.5


def test_the_smaller_box_owns_the_cells_where_regions_overlap():
    codec = CenterBoxCodec(input_size=(128, 96), stride=8)
    big, small = [0, 0, 128, 96], [52, 36, 76, 60]          # one centre cell, (8, 6)
    t = codec.encode(np.array([big, small], np.float32), np.array([0, 1]))
    y, x = np.argwhere(t['heatmap'][0] == 1)[0]
    assert np.isclose(np.exp(t['box_target'][0, y, x]) * 8, 24)
    assert t['box_target'][4, y, x] == 1
    # two cells off: outside the small box's 3x3 region, inside the big one's
    assert np.isclose(np.exp(t['box_target'][0, y, x + 2]) * 8, 128)
    assert t['box_target'][4, y, x + 2] == 0 and t['box_target'][2, y, x + 2] == -2


def test_letterbox_maps_the_image_into_the_input_and_back():
    m = letterbox_matrix((640, 480), (256, 192))
    corners = np.array([[0, 0], [639, 479], [319.5, 239.5]], np.float64)
    mapped = corners @ m[:, :2].T + m[:, 2]
    # scale 0.4 about the centre pixel: pixel edges (-0.5, 639.5) -> (-0.5, 255.5)
    np.testing.assert_allclose(mapped, [[-0.3, -0.3], [255.3, 191.3], [127.5, 95.5]],
                               atol=1e-6)
    flipped = letterbox_matrix((640, 480), (256, 192), flip=True)
    np.testing.assert_allclose(np.array([639, 0.0]) @ flipped[:, :2].T + flipped[:, 2],
                               mapped[0], atol=1e-6)


@pytest.fixture(scope='module')
def composite_dataset(tiny_synth):
    init_default_scope('poseforge')
    train, test = detection_pipelines(SMALL_CODEC)
    make = lambda split, pipeline, mode: DATASETS.build(dict(  # noqa: E731
        type='SynthHandBoxDataset', data_root=str(tiny_synth),
        ann_file=f'annotations/{split}.json', pipeline=pipeline, test_mode=mode,
        composite=dict(canvas_size=(160, 120), scale_range=(0.3, 0.8),
                       hands_p=(0.0, 0.3, 0.7))))
    return make('train', train, False), make('test', test, True)


def test_composites_box_every_pasted_hand_and_mirror_sides(composite_dataset):
    _, test = composite_dataset
    boxes_seen, sides_seen = 0, set()
    for idx in range(6):
        sample = test.composite_sample(idx)
        again = test.composite_sample(idx)
        np.testing.assert_array_equal(sample['img'], again['img'])  # a fixed test split
        for box in sample['gt_boxes']:
            x1, y1, x2, y2 = box.astype(int)
            assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 120
            boxes_seen += 1
        sides_seen |= set(sample['gt_sides'].tolist())
    assert boxes_seen >= 6
    assert sides_seen == {0, 1}  # right hands, and mirrored ones labelled left
    packed = test[0]
    assert packed['inputs'].shape == (3, 96, 128)
    assert packed['data_samples']['meta']['gt_boxes'].shape[1] == 4


def test_hand_box_files_onehand10k_and_wholebody(fixtures_dir, tmp_path):
    init_default_scope('poseforge')
    onehand = DATASETS.build(dict(type='HandBoxDataset',
                                  data_root=str(fixtures_dir / 'onehand10k'),
                                  ann_file='test_onehand10k.json', test_mode=True,
                                  pipeline=detection_pipelines(SMALL_CODEC)[1]))
    assert len(onehand) == 4
    first = onehand.get_data_info(0)
    np.testing.assert_allclose(first['gt_boxes'][0], [63, 92, 63 + 99, 92 + 194])
    assert first['gt_sides'].tolist() == [-1]
    assert onehand[0]['inputs'].shape == (3, 96, 128)  # the real image loads and letterboxes
    wholebody = dict(images=[dict(id=1, file_name='a.jpg', width=100, height=80)],
                     annotations=[dict(id=5, image_id=1, bbox=[0, 0, 90, 80],
                                       lefthand_box=[10, 10, 20, 25], lefthand_valid=True,
                                       righthand_box=[50, 40, 15, 15], righthand_valid=False)])
    (tmp_path / 'wb.json').write_text(json.dumps(wholebody))
    ds = DATASETS.build(dict(type='HandBoxDataset', data_root=str(tmp_path),
                             ann_file='wb.json', pipeline=[]))
    info = ds.get_data_info(0)
    np.testing.assert_allclose(info['gt_boxes'], [[10, 10, 30, 35]])
    assert info['gt_sides'].tolist() == [1]


def test_box_ap_is_one_for_perfect_boxes_and_lower_for_shifted_ones():
    init_default_scope('poseforge')
    gt = np.array([[10, 10, 60, 80], [100, 20, 150, 70]], np.float32)

    def run(pred, left):
        metric = METRICS.build(dict(type='HandBoxAP'))
        metric.process({}, [dict(img_id=1, gt_boxes=gt, gt_sides=np.array([1, 0]),
                                 pred_boxes=pred, pred_scores=np.array([0.9, 0.8]),
                                 pred_left_prob=left)])
        return metric.compute_metrics(metric.results)

    perfect = run(gt, np.array([0.9, 0.2]))
    assert perfect['AP'] == pytest.approx(1.0) and perfect['side acc'] == 1.0
    shifted = run(gt + [12, 0, 12, 0], np.array([0.2, 0.2]))
    assert shifted['AP'] < 0.6 and shifted['AP .5'] == pytest.approx(1.0)
    assert shifted['side acc'] == 0.5


def test_detector_loss_falls_on_generated_hands(composite_dataset):
    torch.manual_seed(0)
    np.random.seed(0)
    train, _ = composite_dataset
    model = MODELS.build(dict(type='CenterHandDetector', codec=SMALL_CODEC,
                              widths=(8, 16, 24, 32, 48), neck_channels=24))
    batch = pose_collate([train[i] for i in range(6)])
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        data = model.data_preprocessor(batch, training=True)
        loss = sum(model(**data, mode='loss').values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    model.eval()
    preds = model.test_step(batch)
    assert all(p['pred_boxes'].shape[1] == 4 for p in preds)


@pytest.mark.slow
def test_detector_trains_and_evaluates_with_the_tools(tiny_synth, tmp_path):
    import eval as eval_tool
    import train
    opts = {'train_dataloader.dataset.data_root': str(tiny_synth),
            'val_dataloader.dataset.data_root': str(tiny_synth),
            'test_dataloader.dataset.data_root': str(tiny_synth),
            'train_dataloader.batch_size': 4, 'val_dataloader.batch_size': 8,
            'test_dataloader.batch_size': 8,
            'train_dataloader.dataset.indices': 8, 'val_dataloader.dataset.indices': 8,
            'test_dataloader.dataset.indices': 8,
            'model.codec.input_size': (128, 96), 'model.widths': (8, 16, 24, 32, 48),
            'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
            'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.pipeline.1.input_size'] = (128, 96)
    opts['train_dataloader.dataset.pipeline.3.codec.input_size'] = (128, 96)
    train.main([DET_CONFIG, '--work-dir', str(tmp_path)] + as_cli(opts))
    ckpt = (tmp_path / 'last_checkpoint').read_text().strip()
    metrics = eval_tool.main([DET_CONFIG, ckpt, '--work-dir', str(tmp_path)] + as_cli(opts))
    assert {'AP', 'AP .5', 'side acc'} <= set(metrics) and 0.0 <= metrics['AP'] <= 1.0
    # metrics.json is strict JSON (a NaN, e.g. side acc with no labelled side, becomes null)
    written = json.loads((tmp_path / 'metrics.json').read_text(),
                         parse_constant=lambda c: pytest.fail(f'{c} in metrics.json'))
    assert written['AP'] == pytest.approx(metrics['AP'])
    assert eval_tool.json_safe({'side acc': float('nan'), 'AP': 0.5}) == {'side acc': None,
                                                                          'AP': 0.5}


def test_a_mirrored_hand_is_labelled_the_other_side():
    """The side label follows the mirror, in the compositing and in the detector's input
    augmentation: a cutout red on its left and blue on its right, labelled right, is labelled
    left exactly when it lands blue-left (mirrored); a flipped input swaps the sides."""
    from poseforge.generation.composite import Cutout, composite_hands
    from poseforge.datasets.transforms.detection import DetAffine
    rgb = np.zeros((40, 30, 3), np.uint8)
    rgb[:, :15, 0] = 255
    rgb[:, 15:, 2] = 255
    cutout = Cutout(rgb, np.ones((40, 30), np.float32), side=0)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        img, boxes, sides = composite_hands(rng, [cutout], canvas_size=(160, 120),
                                            scale_range=(0.5, 0.6), max_angle=0.0)
        x1, y1, x2, y2 = boxes[0].astype(int)
        row = img[(y1 + y2) // 2, x1 + 2:x2 - 2].astype(int)
        red_first = np.argmax(row[:, 0] - row[:, 2] > 100) < np.argmax(row[:, 2] - row[:, 0] > 100)
        assert sides[0] == (0 if red_first else 1)
        seen.add(int(sides[0]))
    assert seen == {0, 1}
    np.random.seed(0)
    flip = DetAffine((64, 48), flip_prob=1.0).transform(dict(
        img=np.zeros((48, 64, 3), np.uint8), gt_boxes=np.array([[4, 4, 20, 30], [40, 10, 60, 40]],
                                                                np.float32),
        gt_sides=np.array([1, 0])))
    assert flip['input_sides'].tolist() == [0, 1]
    np.testing.assert_allclose(flip['input_boxes'][0], [44, 4, 60, 30], atol=1.01)
