"""Image loading: ``LoadImage`` and the deferred ("lazy") decoding it can hand on.

``LoadImage(reduce='never')`` follows mmpose's ``LoadImage``: decode the whole file, RGB uint8,
``img_shape``/``ori_shape`` = ``(h, w)``. Unlike mmpose (which lets ``None`` or a cv2 error
surface), an unreadable file always raises :class:`OSError` naming the file and the problem:
the dataset skips and counts such samples in training and raises in test mode.

``LoadImage(reduce='auto')`` is the fast path for top-down training. For a JPEG it only reads the
bytes and the header (size, EXIF orientation) and leaves an :class:`EncodedImage` under
``results['encoded_img']`` instead of ``img``. ``TopdownAffine`` then decodes only the region
its crop reads, with libjpeg's DCT scaling (1/2, 1/4 or 1/8 size) whenever the crop would be
downsampled by at least that factor anyway (:mod:`~poseforge.datasets.transforms.jpeg_region`;
OpenCV's ``cv2.IMREAD_REDUCED_*`` when that decoder does not apply), and folds the region, the
reduction and the EXIF orientation into its single warp: a small box in a large photo costs a
fraction of a full decode. ``img_shape`` is the image as displayed (EXIF orientation applied,
as OpenCV decodes it). Anything that needs the full-size image before ``TopdownAffine`` must
call :func:`get_image` (the transforms here do), which decodes it and applies a flip that
``RandomFlip`` deferred. Non-JPEG files are decoded eagerly as with ``'never'``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from poseforge.datasets.transforms.base import BaseTransform
from poseforge.registry import TRANSFORMS

#: OpenCV >= 4.10 decodes straight to RGB (libjpeg-turbo writes RGB at no extra cost).
_RGB_FLAG: int | None = getattr(cv2, 'IMREAD_COLOR_RGB', None)
#: ``IMREAD_REDUCED_GRAYSCALE_k`` carries only the "reduce by k" bits; OR-ed with a colour flag.
_REDUCE_BITS = {1: 0, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                8: cv2.IMREAD_REDUCED_GRAYSCALE_8}
REDUCE_FACTORS: tuple[int, ...] = (1, 2, 4, 8)
_FLIP_CODES = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}

# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman/arithmetic)
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                          0xCE, 0xCF})
_STANDALONE_MARKERS = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})


# --------------------------------------------------------------------------- reading
def read_image_bytes(path: str) -> np.ndarray:
    """The file's bytes as a uint8 array; ``OSError`` (same subclass) naming the file."""
    try:  # os-level calls: no buffered file object per image (a few us per sample less)
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_BINARY', 0))
        try:
            data = _read_all(fd)
        finally:
            os.close(fd)
    except OSError as err:
        raise type(err)(f"cannot read image file '{path}': {err.strerror or err}") from err
    if not data:
        raise OSError(f"image file is empty (0 bytes): '{path}'")
    return np.frombuffer(data, dtype=np.uint8)


def _read_all(fd: int) -> bytes:
    """Every byte of the open file ``fd``: one read for a regular file (a short read is its
    end), reads to EOF for anything else."""
    size = os.fstat(fd).st_size + 1
    data = os.read(fd, size)
    if len(data) < size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b''.join(chunks)


def decode_image(data: np.ndarray, path: str, reduce: int = 1) -> np.ndarray:
    """Decode encoded bytes to an RGB uint8 ``(h, w, 3)`` image, ``1/reduce`` size.

    ``reduce`` > 1 uses libjpeg's scaled IDCT for JPEGs (output ``ceil(size / reduce)``; pixel
    ``i`` of the reduced image is centred on full-size pixel ``reduce * i + (reduce - 1) / 2``).
    A corrupt or unsupported file raises ``OSError`` naming it.
    """
    if reduce not in _REDUCE_BITS:
        raise ValueError(f'reduce must be one of {REDUCE_FACTORS}, got {reduce}')
    if not jpeg_is_complete(data):
        raise OSError(f"cannot decode image '{path}': the JPEG data ends before its end "
                      f'marker ({data.size} bytes; the file is truncated)')
    colour = _RGB_FLAG if _RGB_FLAG is not None else cv2.IMREAD_COLOR
    try:
        img = cv2.imdecode(data, colour | _REDUCE_BITS[reduce])
    except cv2.error as err:  # some malformed inputs raise instead of returning None
        raise OSError(f"cannot decode image '{path}': {err}") from err
    if img is None:
        raise OSError(f"cannot decode image '{path}': not a readable image "
                      f'({data.size} bytes; corrupt, truncated or unsupported format)')
    if _RGB_FLAG is None:
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
    return img


def _exif_orientation(tiff: bytes) -> int:
    """EXIF orientation tag (0x0112) from a TIFF block, 1 when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b'II', b'MM'):
        return 1
    order = 'little' if tiff[:2] == b'II' else 'big'
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 1
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry:entry + 2], order) == 0x0112:
            value = int.from_bytes(tiff[entry + 8:entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def jpeg_header(data: np.ndarray | bytes) -> tuple[int, int, int] | None:
    """``(height, width, exif_orientation)`` from a JPEG's markers, or ``None`` if not a JPEG.

    Only the header is read (a few hundred bytes). ``height``/``width`` are as stored; OpenCV
    applies the EXIF orientation when decoding, swapping them for orientations 5-8.
    """
    # a view, not a copy of the whole file: only the markers before the frame header are read
    buf = (memoryview(np.ascontiguousarray(data)).cast('B') if isinstance(data, np.ndarray)
           else bytes(data))
    if buf[:2] != b'\xff\xd8':
        return None
    orientation, i, n = 1, 2, len(buf)
    while i + 4 <= n:
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE_MARKERS:
            i += 2
            continue
        length = buf[i + 2] << 8 | buf[i + 3]  # big-endian 16-bit fields, read byte by byte
        if marker in _SOF_MARKERS:  # (no slice object per field)
            if i + 9 > n:
                return None
            height = buf[i + 5] << 8 | buf[i + 6]
            width = buf[i + 7] << 8 | buf[i + 8]
            return (height, width, orientation) if height and width else None
        if marker == 0xE1 and buf[i + 4:i + 10] == b'Exif\x00\x00':
            orientation = _exif_orientation(buf[i + 10:i + 2 + length])
        if marker == 0xDA or length < 2:  # scan data before any frame header: malformed
            return None
        i += 2 + length
    return None


def jpeg_is_complete(data: np.ndarray) -> bool:
    """``False`` for a JPEG cut short: no end-of-image marker after its first scan.

    OpenCV before 5 decodes such a file with a warning, the missing part grey; the check makes
    every version refuse it. ``True`` for anything that is not a JPEG. Entropy-coded data
    never holds ``FF D9`` (``FF`` is followed by ``00`` or a restart marker), so an ``FF D9``
    after the start of scan is the real end, even with bytes appended after it.
    """
    if data.size < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return True
    if data[-2] == 0xFF and data[-1] == 0xD9:
        return True
    buf = data.tobytes()
    i, n = 2, len(buf)
    while i + 4 <= n and buf[i] == 0xFF:  # walk the header segments to the first scan
        marker = buf[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in _STANDALONE_MARKERS:
            i += 2
            continue
        if marker == 0xDA:
            return buf.find(b'\xff\xd9', i) >= 0
        i += 2 + int.from_bytes(buf[i + 2:i + 4], 'big')
    return False


@dataclass(frozen=True)
class EncodedImage:
    """A read but not yet decoded image (``LoadImage(reduce='auto')``); ``decode`` on demand.

    ``height``/``width`` are as stored in the file; ``orientation`` is its EXIF orientation
    (1-8), which decoding applies (``shape``: the displayed ``(h, w)``, swapped for 5-8).
    """

    path: str
    data: np.ndarray = field(repr=False)
    height: int
    width: int
    to_float32: bool = False
    orientation: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(h, w)`` as displayed, i.e. as decoded (EXIF orientation applied)."""
        if self.orientation >= 5:
            return self.width, self.height
        return self.height, self.width

    def decode(self, reduce: int = 1) -> np.ndarray:
        """RGB image at ``1/reduce`` size (``ceil``); ``OSError`` if the data is corrupt."""
        return self.decode_reduced(reduce)[0]

    def decode_reduced(self, reduce: int) -> tuple[np.ndarray, int]:
        """``(image, factor)``: decoded at ``1/reduce``, or at full size (factor 1) should the
        decoder not produce the ``ceil(size / reduce)`` image that the geometry relies on. An
        EXIF-oriented JPEG is decoded at full size: a mirrored reduced image is offset by a
        fraction of a pixel whenever its size is not a multiple of the reduction."""
        if self.orientation != 1:
            reduce = 1
        img = decode_image(self.data, self.path, reduce)
        height, width = self.shape
        expected = (-(-height // reduce), -(-width // reduce))
        if img.shape[:2] != expected:
            if reduce != 1:
                return self.decode_reduced(1)
            raise OSError(f"cannot decode image '{self.path}': header says "
                          f'{height}x{width}, data decodes to {img.shape[:2]}')
        return (img.astype(np.float32) if self.to_float32 else img), reduce


# --------------------------------------------------------------------------- results access
def get_image(results: dict) -> np.ndarray:
    """``results['img']`` as the pipeline means it: decoded, with any deferred flip applied.

    ``LoadImage(reduce='auto')`` defers decoding and ``RandomFlip`` defers flipping the pixels
    (``flip_pending``) so that ``TopdownAffine`` can do both inside its single warp. Any other
    consumer of the full image must call this first; it decodes/flips once and stores the result.
    """
    encoded = results.pop('encoded_img', None)
    if results.get('img') is None:
        if encoded is None:
            raise KeyError("no 'img' in results: put LoadImage first in the pipeline")
        results['img'] = encoded.decode()
    if results.get('flip_pending'):
        results['img'] = cv2.flip(results['img'], _FLIP_CODES[results['flip_direction']])
        results['flip_pending'] = False
    return results['img']


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``img_path``: ``img`` (h, w, 3) RGB uint8 (float32 with ``to_float32``).

    Writes ``img_shape`` and ``ori_shape`` = ``(h, w)``. An ``img`` already present (inference
    on an array) is kept, as in mmpose. ``reduce='auto'`` defers JPEG decoding to
    ``TopdownAffine`` (see the module docstring); ``'never'`` always decodes here.
    """

    def __init__(self, to_float32: bool = False, reduce: str = 'never') -> None:
        if reduce not in ('auto', 'never'):
            raise ValueError(f"LoadImage: reduce must be 'auto' or 'never', got {reduce!r}")
        self.to_float32 = bool(to_float32)
        self.reduce = reduce

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            path = results.get('img_path')
            if path is None:
                raise KeyError("LoadImage: results have neither 'img' nor 'img_path'")
            data = read_image_bytes(path)
            header = jpeg_header(data) if self.reduce == 'auto' else None
            if header is not None:
                encoded = EncodedImage(str(path), data, *header[:2], self.to_float32, header[2])
                results['encoded_img'] = encoded
                results['img_shape'] = results['ori_shape'] = encoded.shape
                return results
            img = decode_image(data, path)
        if self.to_float32 and img.dtype != np.float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = tuple(img.shape[:2])
        return results
