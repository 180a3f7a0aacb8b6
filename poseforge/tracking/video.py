"""Video input and output for the real-time demos: a capture thread, an output thread.

Capture, inference and drawing overlap: :class:`FrameReader` decodes the next frames while the
main thread runs the networks, and :class:`OutputWriter` draws, encodes the annotated video and
writes the JSON lines while the main thread is on the next frame (OpenCV releases the GIL in
decoding, drawing and encoding). From a camera the reader keeps only the newest frames (a slow
frame is skipped, never queued into growing lag); from a file it drops nothing, so a benchmark
processes every frame.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import time
from typing import Any, Sequence

import cv2
import numpy as np

from poseforge.tracking.timing import StageTimer
from poseforge.visualization import draw_pose

SIDE_COLOURS = {'left': (60, 220, 60), 'right': (255, 150, 30), 'unknown': (255, 255, 0),
                None: (255, 255, 0)}
_END = object()


class VideoSourceError(RuntimeError):
    """A video file or camera cannot be opened or read (the message is one line)."""


def parse_source(source: str | int) -> int | str:
    """A camera index (``'0'``) or a file path."""
    if isinstance(source, int):
        return source
    return int(source) if source.strip().isdigit() else source


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the block: OpenCV's backends (FFmpeg, V4L2)
    print their own warnings on probing a bad source, below Python's ``sys.stderr``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def open_source(source: str | int) -> tuple[cv2.VideoCapture, np.ndarray, bool]:
    """Open a camera or file and read its first frame: ``(capture, first frame BGR, live)``.

    Raises :class:`VideoSourceError` for a missing file, a camera that cannot be opened, or a
    source that opens but yields no frame (not a video, an unsupported codec, a busy camera).
    OpenCV's (and FFmpeg's) own warnings are silenced while probing, so the error is the one
    line printed.
    """
    source = parse_source(source)
    live = isinstance(source, int)
    if not live and not os.path.isfile(source):
        raise VideoSourceError(f"video file not found: '{source}'")
    what = f'camera {source}' if live else f"video '{source}'"
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        with native_stderr_silenced():
            capture = cv2.VideoCapture(source)
            opened = capture.isOpened()
            ok, frame = capture.read() if opened else (False, None)
        if not opened:
            raise VideoSourceError(f'cannot open {what}' + (
                ' (no such camera, no permission, or it is in use)' if live else
                ' (not a video, or a codec OpenCV cannot decode)'))
        if not ok or frame is None:
            capture.release()
            raise VideoSourceError(f'cannot read a frame from {what}' + (
                ' (no permission, or it is in use)' if live else
                ' (empty, not a video, or a codec OpenCV cannot decode)'))
    finally:
        cv2.utils.logging.setLogLevel(previous)
    return capture, frame, live


class FrameReader(threading.Thread):
    """Reads frames (RGB) into a queue on its own thread; iterate to get
    ``(index, frame_rgb, capture_ms)`` until the source ends or ``max_frames``.

    Args:
        capture / first_frame / live: from :func:`open_source`.
        max_frames: stop after this many frames (0 = all).
        queue_size: frames buffered; a live source drops its oldest frame when full.
    """

    def __init__(self, capture: cv2.VideoCapture, first_frame: np.ndarray, live: bool,
                 max_frames: int = 0, queue_size: int = 4) -> None:
        super().__init__(daemon=True, name='poseforge-capture')
        self.capture, self.live, self.max_frames = capture, live, int(max_frames)
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self._first = first_frame
        self._stop = threading.Event()

    def run(self) -> None:
        index, frame, read_ms = 0, self._first, 0.0
        try:
            while not self._stop.is_set():
                if frame is None:
                    start = time.perf_counter()
                    ok, frame = self.capture.read()
                    read_ms = (time.perf_counter() - start) * 1e3
                    if not ok:
                        break
                start = time.perf_counter()
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                item = (index, rgb, read_ms + (time.perf_counter() - start) * 1e3)
                self._put(item)
                index += 1
                frame = None
                if self.max_frames and index >= self.max_frames:
                    break
        finally:
            self.capture.release()
            self._put(_END, force=True)

    def _put(self, item: Any, force: bool = False) -> None:
        """Queue ``item``. A camera drops its oldest frame when the queue is full; a file
        waits for room (nothing dropped). ``force`` (the end marker) waits too, unless the
        consumer has stopped, when it makes room."""
        while True:
            try:
                if self.live and not force:
                    self.queue.put_nowait(item)
                else:
                    self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self.live and not self._stop.is_set():
                    continue
                if not force and not self.live:
                    return  # stopped: nobody reads any more
                try:
                    self.queue.get_nowait()
                    self.dropped += 0 if force else 1
                except queue.Empty:
                    pass

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is _END:
                return
            yield item


def display_available() -> bool:
    """Whether a window can open: a display server (or a desktop OS) and an OpenCV with GUI
    support (``opencv-python-headless`` has none)."""
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                 or os.environ.get('WAYLAND_DISPLAY')):
        return False
    try:
        cv2.namedWindow('poseforge', cv2.WINDOW_NORMAL)
        return True
    except cv2.error:
        return False


def draw_frame(frame: np.ndarray, record: dict, meta: dict, body_meta: dict | None,
               keypoint_thr: float, overlay: Sequence[str] = ()) -> np.ndarray:
    """The annotated frame (RGB): body skeleton and hand boxes from the body (thin), each hand
    with its box coloured by side, id, side and confidence, and the overlay lines."""
    out = frame
    body = record.get('body')
    if body is not None and body_meta is not None:
        out = draw_pose(out, body['keypoints'], body_meta['limbs'],
                        body['keypoint_scores'] > keypoint_thr, body_meta.get('keypoint_colors'),
                        body_meta.get('limb_colors'), radius=3, thickness=2)
        for box in body['hand_boxes']:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), (200, 200, 200), 1, cv2.LINE_AA)
    else:
        out = out.copy()
    for inst in record['instances']:
        colour = SIDE_COLOURS.get(inst['side'], SIDE_COLOURS[None])
        x1, y1, x2, y2 = (int(round(v)) for v in inst['box'])
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
        side = {'left': 'L', 'right': 'R'}.get(inst['side'] or '', '')
        label = f"#{inst['id']} {side} {inst['score']:.2f}".replace('  ', ' ')
        cv2.putText(out, label, (x1, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour,
                    1, cv2.LINE_AA)
        out = draw_pose(out, inst['keypoints'], meta['limbs'],
                        inst['keypoint_scores'] > keypoint_thr, meta.get('keypoint_colors'),
                        meta.get('limb_colors'))
    for i, line in enumerate(overlay):
        y = 18 + 16 * i
        cv2.putText(out, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out


class OutputWriter(threading.Thread):
    """Draws and writes on its own thread: the annotated video (``video_path``), one JSON line
    per frame (``jsonl_path``) and, for the window, the latest drawn frame (:attr:`latest`).

    ``submit(frame_rgb, record, json_record, overlay)`` never blocks the main loop for long
    (a bounded queue: when drawing falls behind, the main loop waits rather than queueing
    frames without bound)."""

    def __init__(self, meta: dict, body_meta: dict | None, keypoint_thr: float, fps: float,
                 timer: StageTimer, video_path: str | None = None,
                 jsonl_path: str | None = None, draw: bool = True) -> None:
        super().__init__(daemon=True, name='poseforge-output')
        self.meta, self.body_meta, self.keypoint_thr = meta, body_meta, keypoint_thr
        self.fps, self.timer = fps, timer
        self.video_path, self.jsonl_path = video_path, jsonl_path
        self.draw = draw or bool(video_path)
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.latest: np.ndarray | None = None
        self.error: BaseException | None = None
        self.written = 0
        self._writer: cv2.VideoWriter | None = None
        self._jsonl = None

    def submit(self, frame: np.ndarray, record: dict, json_record: dict,
               overlay: Sequence[str]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((frame, record, json_record, tuple(overlay)))

    def close(self) -> None:
        self.queue.put(_END)
        self.join()
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        try:
            if self.jsonl_path:
                os.makedirs(os.path.dirname(os.path.abspath(self.jsonl_path)), exist_ok=True)
                self._jsonl = open(self.jsonl_path, 'w', encoding='utf-8')
            while True:
                item = self.queue.get()
                if item is _END:
                    break
                self._write(*item)
        except BaseException as err:  # reported to the main thread by submit/close
            self.error = err
            while self.queue.get() is not _END:  # unblock the producer until it closes
                pass
        finally:
            if self._writer is not None:
                self._writer.release()
            if self._jsonl is not None:
                self._jsonl.close()

    def _write(self, frame: np.ndarray, record: dict, json_record: dict,
               overlay: Sequence[str]) -> None:
        if self.draw:
            with self.timer.stage('draw'):
                drawn = draw_frame(frame, record, self.meta, self.body_meta, self.keypoint_thr,
                                   overlay)
                bgr = cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
            self.latest = bgr
        with self.timer.stage('write'):
            if self.video_path:
                if self._writer is None:
                    h, w = frame.shape[:2]
                    fourcc = cv2.VideoWriter_fourcc(
                        *('MJPG' if self.video_path.lower().endswith('.avi') else 'mp4v'))
                    self._writer = cv2.VideoWriter(self.video_path, fourcc, self.fps, (w, h))
                    if not self._writer.isOpened():
                        raise VideoSourceError(f"cannot write video '{self.video_path}'")
                self._writer.write(bgr)
            if self._jsonl is not None:
                self._jsonl.write(json.dumps(json_record) + '\n')
        self.written += 1
