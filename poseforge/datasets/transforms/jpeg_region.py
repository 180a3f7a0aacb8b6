"""Decode only the part of a JPEG that a crop reads, at the smallest DCT scale it allows.

``TopdownAffine`` maps a box of the photo to the model input with one bilinear warp. Whatever
lies outside the box's footprint (plus the one pixel bilinear reads beyond it) is never read,
and when the warp shrinks the box by 2, 4 or 8 libjpeg's scaled IDCT yields the same detail from
fewer coefficients. This module decodes exactly that: libjpeg-turbo's TurboJPEG 3 API
(``tj3SetScalingFactor`` + ``tj3SetCroppingRegion`` + ``tj3Decompress8``) skips the IDCT and
colour conversion of the rows above the region and the columns beside it, and stops reading the
file after the region's last row. The pixels it returns are libjpeg-turbo's own (the same
library OpenCV decodes with): equal to a full decode inside the region except the outermost
pixel at a cut edge, where chroma upsampling lacks its neighbour; :data:`EDGE_MARGIN` keeps
those out of what the warp reads.

It decodes to RGBX (4 bytes a pixel): OpenCV's bilinear ``warpAffine`` has a SIMD path for four
8-bit channels that three lack (about 2x faster here at 256-368 px crops, same values per
channel), and dropping X after the warp costs microseconds.

Where the library comes from: PyTurboJPEG 2.x is pure Python and needs a system
``libturbojpeg`` with the TurboJPEG 3 API (Debian 13 ships 2.1.5, without it); simplejpeg bundles
libjpeg-turbo but exposes scaled decoding only, no region. The ``turbojpeg`` wheel bundles
libturbojpeg 3 (``turbojpeg.libs/``); this module calls the handful of TurboJPEG 3 functions it
needs through ``ctypes``. ``$POSEFORGE_TURBOJPEG`` names another copy; a system library is used
when it has the TurboJPEG 3 API. Without any, :func:`decode_region` returns ``None`` and the
caller decodes with OpenCV (``cv2.IMREAD_REDUCED_*``), as it does for anything this decoder
refuses: CMYK/YCCK or 12-bit JPEGs, any libjpeg warning (corrupt data), a file without its end
marker (truncated; OpenCV's path then names the problem). An EXIF orientation is not
applied here: the caller folds :func:`orientation_matrix` into its warp, so a rotated phone
photo is cropped as displayed with the same partial decode.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import math
import os
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Scaled pixels kept beyond what the warp reads, at each cut edge (see the module docstring:
#: libjpeg-turbo's cropped output differs from a full decode only in its outermost pixel).
EDGE_MARGIN = 2
#: Reduction factors worth decoding at: libjpeg-turbo's 1/2, 1/4, 1/8 IDCTs are SIMD and faster
#: than full size; its 3/8..7/8 ones are scalar and slower than decoding at full size here.
REGION_FACTORS: tuple[int, ...] = (1, 2, 4, 8)

_TJINIT_DECOMPRESS = 1
_TJPARAM_SUBSAMP, _TJPARAM_JPEGWIDTH, _TJPARAM_JPEGHEIGHT = 4, 5, 6
_TJPARAM_PRECISION, _TJPARAM_COLORSPACE = 7, 8
_TJPF_RGBX = 2
_TJCS_CMYK, _TJCS_YCCK = 3, 4
#: iMCU width per TJSAMP_* (444, 422, 420, GRAY, 440, 411, 441): a crop's left edge must fall on
#: a multiple of it (scaled).
_MCU_WIDTH = {0: 8, 1: 16, 2: 16, 3: 8, 4: 8, 5: 32, 6: 8}


class _ScalingFactor(ctypes.Structure):
    _fields_ = [('num', ctypes.c_int), ('denom', ctypes.c_int)]


class _Region(ctypes.Structure):
    _fields_ = [('x', ctypes.c_int), ('y', ctypes.c_int), ('w', ctypes.c_int), ('h', ctypes.c_int)]


# --------------------------------------------------------------------------- the library
def _candidate_paths() -> list[str]:
    """Where a libturbojpeg with the TurboJPEG 3 API may be, most specific first."""
    paths = [os.environ.get('POSEFORGE_TURBOJPEG', '')]
    spec = importlib.util.find_spec('turbojpeg')
    if spec is not None and spec.origin:  # the wheel's bundled copy: turbojpeg.libs/ (Linux,
        site = os.path.dirname(spec.origin)  # Windows) or turbojpeg.dylibs/ (macOS)
        paths += sorted(glob.glob(os.path.join(site, 'turbojpeg.*libs', '*turbojpeg*')))
    system = ctypes.util.find_library('turbojpeg')
    if system:
        paths.append(system)
    return [p for p in paths if p]


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Declare the signatures used here (an ``AttributeError`` if the API is older than 3)."""
    vp, c_int = ctypes.c_void_p, ctypes.c_int
    for name, restype, argtypes in (
            ('tj3Init', vp, [c_int]),
            ('tj3Destroy', None, [vp]),
            ('tj3Get', c_int, [vp, c_int]),
            ('tj3DecompressHeader', c_int, [vp, vp, ctypes.c_size_t]),
            ('tj3SetScalingFactor', c_int, [vp, _ScalingFactor]),
            ('tj3SetCroppingRegion', c_int, [vp, _Region]),
            ('tj3Decompress8', c_int, [vp, vp, ctypes.c_size_t, vp, c_int, c_int])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


_LIB: ctypes.CDLL | None = None
_LIB_PATH: str | None = None
_LIB_SEARCHED = False
_LOCAL = threading.local()


def library_path() -> str | None:
    """The libturbojpeg in use (``None``: none with the TurboJPEG 3 API, OpenCV decodes)."""
    _library()
    return _LIB_PATH


def _library() -> ctypes.CDLL | None:
    global _LIB, _LIB_PATH, _LIB_SEARCHED
    if not _LIB_SEARCHED:
        _LIB_SEARCHED = True
        for path in _candidate_paths():
            try:
                _LIB, _LIB_PATH = _bind(ctypes.CDLL(path)), path
                break
            except (OSError, AttributeError):
                continue
    return _LIB


def _handle(lib: ctypes.CDLL) -> int:
    """This thread's decompressor (a handle is not thread-safe; one per thread is reused)."""
    handle = getattr(_LOCAL, 'handle', None)
    if handle is None:
        handle = lib.tj3Init(_TJINIT_DECOMPRESS)
        if not handle:
            raise MemoryError('tj3Init failed')
        _LOCAL.handle = handle
    return handle


def _discard_handle(lib: ctypes.CDLL) -> None:
    """Destroy this thread's decompressor after a failure: libjpeg-turbo leaves a handle whose
    decompression stopped on an error in a state that corrupts the next image it decodes."""
    handle = getattr(_LOCAL, 'handle', None)
    if handle is not None:
        _LOCAL.handle = None
        lib.tj3Destroy(handle)


# --------------------------------------------------------------------------- geometry
def needed_box(source_to_output: np.ndarray, output_size: Sequence[int],
               image_size: Sequence[int]) -> tuple[int, int, int, int] | None:
    """Inclusive ``(x0, y0, x1, y1)`` of the image px a bilinear warp to ``output_size`` reads.

    ``source_to_output`` (2x3 or 3x3) maps image px to output px; ``image_size`` is ``(w, h)``.
    The output's outer pixel edges are mapped back, and the integer neighbours of every point
    inside are included. ``None`` when the crop lies wholly outside the image (all border).
    """
    (a, b, tx), (c, d, ty) = np.asarray(source_to_output, dtype=np.float64)[:2].tolist()
    return needed_box_of(a, b, tx, c, d, ty, output_size, image_size)


def needed_box_of(a: float, b: float, tx: float, c: float, d: float, ty: float,
                  output_size: Sequence[int],
                  image_size: Sequence[int]) -> tuple[int, int, int, int] | None:
    """:func:`needed_box` of the map ``x' = a x + b y + tx``, ``y' = c x + d y + ty`` given as
    Python floats (``TopdownAffine`` composes its maps so)."""
    det = a * d - b * c
    if det == 0:
        return None
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det  # plain floats: ~2x faster here
    # the output's outer pixel corners (-0.5 and size - 0.5 on each axis) mapped back; written
    # out rather than looped over (the same float operations, fewer bytecodes per sample)
    left, right = -0.5 - tx, (float(output_size[0]) - 0.5) - tx
    top, bottom = -0.5 - ty, (float(output_size[1]) - 0.5) - ty
    xs = (ia * left + ib * top, ia * right + ib * top, ia * left + ib * bottom,
          ia * right + ib * bottom)
    ys = (ic * left + id_ * top, ic * right + id_ * top, ic * left + id_ * bottom,
          ic * right + id_ * bottom)
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    width, height = int(image_size[0]), int(image_size[1])
    x0, y0 = max(math.floor(x_lo), 0), max(math.floor(y_lo), 0)
    x1, y1 = min(math.ceil(x_hi), width - 1), min(math.ceil(y_hi), height - 1)
    if x0 > x1 or y0 > y1:
        return None
    return x0, y0, x1, y1


def orientation_matrix(orientation: int, stored_size: Sequence[int]) -> np.ndarray:
    """3x3 map from stored px to displayed px for EXIF ``orientation`` (1-8) of an image
    stored ``(w, h)``: what OpenCV applies when it decodes, as a pixel-exact affine map (the
    flips ``x -> w - 1 - x``, the transposes swap axes). TIFF 6.0 / Exif 2.3 tag 0x0112: 2
    mirrors horizontally, 3 turns 180 degrees, 4 mirrors vertically, 5 transposes, 6 turns
    90 degrees clockwise, 7 transverses, 8 turns 90 degrees anticlockwise."""
    w, h = float(stored_size[0]), float(stored_size[1])
    # (x' from (x, y, 1)), (y' from (x, y, 1))
    rows = {1: ((1, 0, 0), (0, 1, 0)), 2: ((-1, 0, w - 1), (0, 1, 0)),
            3: ((-1, 0, w - 1), (0, -1, h - 1)), 4: ((1, 0, 0), (0, -1, h - 1)),
            5: ((0, 1, 0), (1, 0, 0)), 6: ((0, -1, h - 1), (1, 0, 0)),
            7: ((0, -1, h - 1), (-1, 0, w - 1)), 8: ((0, 1, 0), (-1, 0, w - 1))}
    if orientation not in rows:
        raise ValueError(f'EXIF orientation must be 1-8, got {orientation}')
    return np.array([*rows[orientation], (0, 0, 1)], dtype=np.float64)


def region_affine(factor: int, x0: int, y0: int) -> tuple[float, ...]:
    """Map from px of a region decoded at ``1/factor`` (its corner at scaled px ``(x0, y0)``) to
    full-size image px, as ``(a, b, tx, c, d, ty)`` Python floats. libjpeg's scaled pixel ``i``
    averages full-size pixels ``factor * i .. factor * i + factor - 1``: centre
    ``factor * i + (factor - 1) / 2``."""
    offset = (factor - 1) / 2.0
    return (float(factor), 0.0, factor * x0 + offset, 0.0, float(factor), factor * y0 + offset)


def region_matrix(factor: int, x0: int, y0: int) -> np.ndarray:
    """:func:`region_affine` as a 3x3 float64 matrix."""
    a, b, tx, c, d, ty = region_affine(factor, x0, y0)
    return np.array([[a, b, tx], [c, d, ty], [0.0, 0.0, 1.0]], dtype=np.float64)


def scaled_box(box: tuple[int, int, int, int], factor: int, scaled_size: tuple[int, int],
               mcu_width: int | None) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` in the ``1/factor`` image covering full-size ``box`` with
    :data:`EDGE_MARGIN`, its left edge on the scaled iMCU grid (``None``: whole rows)."""
    offset = (factor - 1) / 2.0
    x0, y0, x1, y1 = box
    sw, sh = scaled_size
    sx0 = max(math.floor((x0 - offset) / factor) - EDGE_MARGIN, 0)
    sy0 = max(math.floor((y0 - offset) / factor) - EDGE_MARGIN, 0)
    sx1 = min(math.ceil((x1 - offset) / factor) + EDGE_MARGIN, sw - 1)
    sy1 = min(math.ceil((y1 - offset) / factor) + EDGE_MARGIN, sh - 1)
    sx0 = sx0 - sx0 % mcu_width if mcu_width else 0
    return sx0, sy0, sx1 - sx0 + 1, sy1 - sy0 + 1


# --------------------------------------------------------------------------- decoding
@dataclass(frozen=True)
class RegionDecode:
    """Decoded RGBX pixels of a region at ``1/factor``, its corner at scaled px ``(x0, y0)``."""

    pixels: np.ndarray
    factor: int
    x0: int
    y0: int

    @property
    def to_image(self) -> np.ndarray:
        """3x3 map from the region's px to full-size image px (:func:`region_matrix`)."""
        return region_matrix(self.factor, self.x0, self.y0)

    def to_image_affine(self) -> tuple[float, ...]:
        """:attr:`to_image` as ``(a, b, tx, c, d, ty)`` Python floats (:func:`region_affine`)."""
        return region_affine(self.factor, self.x0, self.y0)


def decode_region(data: np.ndarray, box: tuple[int, int, int, int] | None,
                  factor: int = 1) -> RegionDecode | None:
    """Decode the inclusive full-size ``box`` (``None``: the whole image) at ``1/factor``.

    Returns ``None`` whenever this decoder does not apply (no libturbojpeg 3, a JPEG it refuses
    or that raises any libjpeg warning, a truncated file); the caller then decodes the whole
    image with OpenCV, which also reports broken files by name.
    """
    if factor not in REGION_FACTORS:
        raise ValueError(f'factor must be one of {REGION_FACTORS}, got {factor}')
    lib = _library()
    if lib is None or data.size < 4 or data[-2] != 0xFF or data[-1] != 0xD9:
        return None
    data = np.ascontiguousarray(data, dtype=np.uint8)
    pixels = _decompress(lib, data, box, factor)
    if pixels is None:
        _discard_handle(lib)
        return None
    pixels, (x, y) = pixels
    return RegionDecode(pixels, factor, x, y)


def _decompress(lib: ctypes.CDLL, data: np.ndarray, box: tuple[int, int, int, int] | None,
                factor: int) -> tuple[np.ndarray, tuple[int, int]] | None:
    """RGBX pixels of ``box`` at ``1/factor`` and the region's scaled corner; ``None`` on any
    TurboJPEG error or warning, or for a JPEG this decoder leaves to OpenCV."""
    handle, src = _handle(lib), data.ctypes.data
    if lib.tj3DecompressHeader(handle, src, data.size) != 0:
        return None
    if (lib.tj3Get(handle, _TJPARAM_PRECISION) != 8
            or lib.tj3Get(handle, _TJPARAM_COLORSPACE) in (_TJCS_CMYK, _TJCS_YCCK)):
        return None
    width = lib.tj3Get(handle, _TJPARAM_JPEGWIDTH)
    height = lib.tj3Get(handle, _TJPARAM_JPEGHEIGHT)
    if lib.tj3SetScalingFactor(handle, _ScalingFactor(1, factor)) != 0:
        return None
    scaled = (-(-width // factor), -(-height // factor))
    if box is None:
        box = (0, 0, width - 1, height - 1)
    mcu = _MCU_WIDTH.get(lib.tj3Get(handle, _TJPARAM_SUBSAMP))
    x, y, w, h = scaled_box(box, factor, scaled, max(mcu // factor, 1) if mcu else None)
    if lib.tj3SetCroppingRegion(handle, _Region(x, y, w, h)) != 0:
        return None
    pixels = np.empty((h, w, 4), dtype=np.uint8)
    if lib.tj3Decompress8(handle, src, data.size, pixels.ctypes.data, w * 4, _TJPF_RGBX) != 0:
        return None
    return pixels, (x, y)

