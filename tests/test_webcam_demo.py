"""The webcam demo runs headless on a video file and writes the annotated frames."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from conftest import QUICKSTART_CONFIG, ROOT

import webcam_demo


def test_box_follows_confident_keypoints():
    kpts = np.array([[10.0 + i, 20.0 + 2 * i] for i in range(21)])
    box = webcam_demo.box_from_keypoints(kpts, np.ones(21), thr=0.3, pad=1.0)
    np.testing.assert_allclose(box, [0, 20, 40, 60])  # square of the longer side (40 px)
    assert webcam_demo.box_from_keypoints(kpts, np.zeros(21), thr=0.3) is None


def test_demo_writes_annotated_video(tmp_path):
    from poseforge.apis import init_model
    import torch
    ckpt = tmp_path / 'init.pth'
    torch.save({'state_dict': init_model(QUICKSTART_CONFIG).state_dict()}, ckpt)
    video = tmp_path / 'in.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
    for i in range(5):
        writer.write(np.full((120, 160, 3), 40 * i, np.uint8))
    writer.release()
    out = tmp_path / 'out.mp4'
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'webcam_demo.py'),
                           QUICKSTART_CONFIG, str(ckpt), '--source', str(video), '--out',
                           str(out), '--no-show'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '5 frames' in proc.stdout
    read = cv2.VideoCapture(str(out))
    assert int(read.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
