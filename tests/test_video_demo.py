"""The video demo on a generated video: both backends, annotated video and JSON lines written,
the benchmark's JSON, whole-body mode, and bad sources failing with one clear line."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import QUICKSTART_CONFIG, ROOT

import video_demo
import webcam_demo

from poseforge.apis import init_model
from poseforge.generation.composite import cut_out_hand, moving_hands_video

DET_CONFIG = str(ROOT / 'configs' / 'detector' / 'center-hand_synth-hands-256x192.py')
FRAMES = 8


@pytest.fixture(scope='module')
def demo_inputs(tiny_synth, tmp_path_factory):
    """A generated hand moving over a background (avi) and untrained checkpoints."""
    root = tmp_path_factory.mktemp('demo')
    ann = json.loads((tiny_synth / 'annotations' / 'test.json').read_text())
    image = ann['images'][1]
    rgb = cv2.imread(str(tiny_synth / 'images' / 'test' / image['file_name']))
    mask = cv2.imread(str(tiny_synth / 'masks' / 'test' / image['mask_file']),
                      cv2.IMREAD_GRAYSCALE)
    cutout = cut_out_hand(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB), mask, 0)
    centres = np.stack([60 + 5 * np.arange(FRAMES), np.full(FRAMES, 60)], 1)[:, None]
    frames, _ = moving_hands_video([cutout], centres, 50.0, (160, 120))
    video = root / 'hand.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    torch.manual_seed(0)
    pose, det = root / 'pose.pth', root / 'det.pth'
    torch.save({'state_dict': init_model(QUICKSTART_CONFIG).state_dict()}, pose)
    torch.save({'state_dict': init_model(DET_CONFIG).state_dict()}, det)
    return dict(video=str(video), pose=str(pose), det=str(det), root=root)


def _read_jsonl(path):
    return [json.loads(line) for line in open(path, encoding='utf-8')]


@pytest.mark.slow
@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_demo_writes_video_and_json_lines_with_either_backend(demo_inputs, backend, tmp_path,
                                                              capsys):
    out, jsonl = tmp_path / 'out.avi', tmp_path / 'frames.jsonl'
    # untrained networks: a low detector threshold and no score thresholds keep hands in view
    argv = [QUICKSTART_CONFIG, demo_inputs['pose'], '--source', demo_inputs['video'],
            '--det-config', DET_CONFIG, '--det-checkpoint', demo_inputs['det'],
            '--det-thr', '0.05', '--track-thr', '-1', '--score-thr', '-1', '--backend', backend, '--out', str(out),
            '--json-out', str(jsonl), '--no-show', '--smooth', '--benchmark']
    assert video_demo.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['frames'] == FRAMES and summary['fps'] > 0
    assert summary['backend'] == backend and summary['detector_runs'] >= 1
    for stage in ('capture', 'detect', 'pose', 'track', 'draw', 'write'):
        assert {'p50', 'p90', 'p99', 'mean'} <= set(summary['latency_ms'][stage]), stage
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    records = _read_jsonl(jsonl)
    assert [r['frame'] for r in records] == list(range(FRAMES))
    hands = [h for r in records for h in r['hands']]
    assert hands, 'no hand was tracked'
    for hand in hands:
        assert len(hand['keypoints']) == 21 and len(hand['keypoint_scores']) == 21
        assert len(hand['box']) == 4 and hand['side'] in ('left', 'right', 'unknown')
        assert hand['box_source'] in ('detector', 'tracking')


SIDE_CONFIG = str(ROOT / 'configs' / 'hand_side' / 'palm_synth-hands-96.py')


@pytest.mark.slow
def test_demo_labels_sides_with_the_side_model_and_times_it(demo_inputs, tmp_path, capsys):
    torch.manual_seed(0)
    side_ckpt = tmp_path / 'palm.pth'
    torch.save({'state_dict': init_model(SIDE_CONFIG).state_dict()}, side_ckpt)
    jsonl = tmp_path / 'frames.jsonl'
    argv = [QUICKSTART_CONFIG, demo_inputs['pose'], '--source', demo_inputs['video'],
            '--det-config', DET_CONFIG, '--det-checkpoint', demo_inputs['det'],
            '--side-config', SIDE_CONFIG, '--side-checkpoint', str(side_ckpt),
            '--side-every', '1', '--det-thr', '0.05', '--track-thr', '-1', '--score-thr', '-1',
            '--json-out', str(jsonl), '--no-show', '--benchmark']
    assert video_demo.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['side_model'] is True
    assert {'p50', 'p90', 'p99', 'mean'} <= set(summary['latency_ms']['side'])
    hands = [h for r in _read_jsonl(jsonl) for h in r['hands']]
    assert hands and all(h['side'] in ('left', 'right', 'unknown') for h in hands)
    # every tracked frame votes (--side-every 1): a side is named unless every palm was edge-on
    assert any(h['side'] != 'unknown' for h in hands)


def test_side_config_without_checkpoint_is_a_usage_error(demo_inputs, capfd, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        video_demo.main([QUICKSTART_CONFIG, demo_inputs['pose'], '--source',
                         demo_inputs['video'], '--side-config', SIDE_CONFIG, '--no-show',
                         '--json-out', 'x.jsonl'])
    assert exit_info.value.code == 2
    assert '--side-config and --side-checkpoint go together' in capfd.readouterr().err


@pytest.mark.slow
def test_whole_body_mode_draws_the_body_and_takes_hand_boxes_from_its_arms(demo_inputs,
                                                                           tmp_path):
    body_cfg = tmp_path / 'body_light.py'
    body_cfg.write_text(f"""
_base_ = ['{ROOT / 'configs' / 'cpm' / 'cpm_vgg19_coco-256x192.py'}']
from poseforge.datasets.transforms.presets import topdown_pipelines
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=1.0)
model = dict(backbone=dict(arch='light_s8', num_keypoints=17, num_stages=2),
             head=dict(decoder=codec), test_cfg=dict(flip_test=False))
train_pipeline, test_pipeline = topdown_pipelines(codec)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
""")
    body_ckpt = tmp_path / 'body.pth'
    torch.save({'state_dict': init_model(str(body_cfg)).state_dict()}, body_ckpt)
    jsonl = tmp_path / 'frames.jsonl'
    argv = [QUICKSTART_CONFIG, demo_inputs['pose'], '--source', demo_inputs['video'],
            '--body-config', str(body_cfg), '--body-checkpoint', str(body_ckpt),
            '--body-thr', '-1', '--track-thr', '-1', '--score-thr', '-1', '--max-frames', '3',
            '--json-out', str(jsonl), '--out', str(tmp_path / 'o.avi'), '--no-show']
    assert webcam_demo.main(argv) == 0
    records = _read_jsonl(jsonl)
    assert len(records) == 3
    body = records[0]['body']
    assert len(body['keypoints']) == 17 and sorted(body['hand_sides']) == ['left', 'right']
    # no detector: the arms' boxes start the hand tracks, with the body's sides
    first = records[0]['hands']
    assert {h['box_source'] for h in first} == {'body'}
    assert sorted(h['side'] for h in first) == ['left', 'right']


@pytest.mark.parametrize('source, says', [('missing.mp4', 'video file not found'),
                                          ('99', 'camera 99'),
                                          ('not_a_video.mp4', 'not a video')])
def test_bad_sources_fail_with_one_clear_line(source, says, demo_inputs, tmp_path, capfd,
                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'not_a_video.mp4').write_text('hello')
    with pytest.raises(SystemExit) as exit_info:
        video_demo.main([QUICKSTART_CONFIG, demo_inputs['pose'], '--source', source,
                         '--no-show', '--json-out', 'x.jsonl'])
    assert exit_info.value.code == 2
    captured = capfd.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('video_demo.py: error: '), lines
    assert says in lines[0]
