"""Region and DCT-scaled JPEG decoding (``jpeg_region``) inside ``TopdownAffine``: the crop equals
a full decode + flip + warp, wherever the box lies, for every chroma layout; JPEGs the decoder
refuses (CMYK, truncated, rotating EXIF orientation) fall back to OpenCV with the same result."""
from __future__ import annotations

import struct
import threading

import cv2
import numpy as np
import pytest

from poseforge.datasets.transforms import LoadImage, RandomFlip, TopdownAffine
from poseforge.datasets.transforms import affine as affine_module
from poseforge.datasets.transforms import jpeg_region
from tests import reference_datapath as ref

INPUT = (96, 96)
SHAPE = (333, 517)  # odd sizes: the last iMCU row/column is partial

#: (box centre as a fraction of (w, h), box side as a fraction of the image width, rotation)
BOXES = {
    'top-left corner': ((0.0, 0.0), 0.3, 20.0),
    'bottom-right corner': ((1.0, 1.0), 0.25, -35.0),
    'top-right corner, turned': ((1.0, 0.0), 0.4, 90.0),
    'left edge, middle': ((0.0, 0.55), 0.2, 0.0),
    'across the whole image': ((0.5, 0.5), 1.4, 45.0),
    'tiny': ((0.37, 0.61), 0.015, 10.0),
}
SAMPLINGS = {'420': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
             '422': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
             '444': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}

needs_turbojpeg = pytest.mark.skipif(jpeg_region.library_path() is None,
                                     reason='no libturbojpeg 3 (turbojpeg wheel) installed')


def textured_image(shape=SHAPE, grey: bool = False, seed: int = 0) -> np.ndarray:
    """Smooth colour noise plus sharp stripes (RGB uint8): detail a wrong offset would show."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (*shape, 3)).astype(np.float32), (0, 0), 3)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    img[:, ::17] = 255
    img[::23, :] = 0
    img = img.astype(np.uint8)
    return img[..., 0].copy() if grey else img


def write_jpeg(path, img: np.ndarray, sampling: str = '420', progressive: bool = False) -> str:
    bgr = img if img.ndim == 2 else img[..., ::-1]
    cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 92,
                                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLINGS[sampling],
                                 cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    return str(path)


def _jpeg_with_orientation(bgr: np.ndarray, orientation: int, quality: int = 92) -> bytes:
    """JPEG bytes of ``bgr`` (stored as given) with an EXIF APP1 holding ``orientation``."""
    data = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    tiff = (b'MM\x00\x2a' + struct.pack('>IH', 8, 1)
            + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack('>I', 0))
    app1 = b'Exif\x00\x00' + tiff
    return data[:2] + b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1 + data[2:]


def crop_of(path: str, box, flip: bool, reduce: str, max_reduce: int = 8) -> np.ndarray:
    """LoadImage -> (RandomFlip) -> TopdownAffine on the box ``(centre, side, rotation)``."""
    (fx, fy), side, rot = box
    results = LoadImage(reduce=reduce)(dict(img_path=path))
    h, w = results['img_shape']
    results.update(bbox_center=np.array([fx * (w - 1), fy * (h - 1)], np.float32),
                   bbox_scale=np.array([side * w] * 2, np.float32), bbox_rotation=rot)
    if flip:
        RandomFlip(prob=1.0)(results)
    return TopdownAffine(INPUT, max_reduce=max_reduce)(results)['img']


def assert_same_crop(ours: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to cv2's fixed-point bilinear rounding (a level or two at a few pixels)."""
    assert ours.shape == expected.shape == (*INPUT[::-1], 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(int) - expected.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.05, (diff.max(), diff.mean())


@pytest.fixture
def decodes(monkeypatch):
    """Records what the region decoder returned for each crop (so a silent fallback fails)."""
    seen = []

    def spy(data, box, factor=1):
        out = jpeg_region.decode_region(data, box, factor)
        seen.append(out)
        return out
    monkeypatch.setattr(affine_module, 'decode_region', spy)
    return seen


@needs_turbojpeg
@pytest.mark.parametrize('sampling', ['420', '422', '444', 'grey', '420 progressive'])
def test_region_crop_equals_full_decode_flip_and_warp(tmp_path, decodes, sampling):
    img = textured_image(grey=sampling == 'grey')
    path = write_jpeg(tmp_path / 'photo.jpg', img, sampling.split()[0].replace('grey', '420'),
                      progressive='progressive' in sampling)
    for name, box in BOXES.items():
        for flip in (False, True):
            decodes.clear()
            ours = crop_of(path, box, flip, 'auto', max_reduce=1)
            assert decodes and decodes[0] is not None, f'{name}: the region decoder fell back'
            expected = crop_of(path, box, flip, 'never')  # full decode, flip, warp
            assert_same_crop(ours, expected)
            region = decodes[0].pixels
            if name != 'across the whole image':  # decoded less than the whole image
                assert region.shape[0] * region.shape[1] < SHAPE[0] * SHAPE[1] / 2, name


@needs_turbojpeg
@pytest.mark.parametrize('sampling', ['420', '444'])
def test_scaled_region_equals_scaled_full_decode(tmp_path, decodes, monkeypatch, sampling):
    """At 1/2-1/8 size the region decoder gives OpenCV's reduced decode of the same file."""
    big = cv2.resize(textured_image(seed=1), None, fx=3.1, fy=3.1, interpolation=cv2.INTER_CUBIC)
    path = write_jpeg(tmp_path / 'big.jpg', big, sampling)
    boxes = {'whole image, 1/2': ((0.5, 0.5), 0.5, 30.0),
             'corner, 1/8': ((1.0, 0.0), 0.6, -70.0), 'middle, 1/4': ((0.4, 0.6), 0.25, 5.0)}
    ours = {}
    for name, box in boxes.items():
        decodes.clear()
        ours[name] = crop_of(path, box, True, 'auto')
        assert decodes[0] is not None and decodes[0].factor > 1, name
    monkeypatch.setattr(jpeg_region, '_LIB', None)  # OpenCV's IMREAD_REDUCED_* path
    monkeypatch.setattr(jpeg_region, '_LIB_SEARCHED', True)
    for name, box in boxes.items():
        assert_same_crop(ours[name], crop_of(path, box, True, 'auto'))


@needs_turbojpeg
def test_crop_outside_the_image_is_border_without_decoding(tmp_path, decodes):
    path = write_jpeg(tmp_path / 'photo.jpg', textured_image())
    out = crop_of(path, ((3.0, -2.0), 0.2, 0.0), False, 'auto')
    assert not decodes and out.shape == (*INPUT[::-1], 3) and not out.any()


def test_cmyk_jpeg_falls_back_to_opencv(tmp_path, decodes):
    pil = pytest.importorskip('PIL.Image')
    path = str(tmp_path / 'cmyk.jpg')
    pil.fromarray(textured_image()).convert('CMYK').save(path, quality=95)
    assert jpeg_region.decode_region(np.fromfile(path, np.uint8), None) is None
    for name, box in BOXES.items():
        assert_same_crop(crop_of(path, box, True, 'auto', max_reduce=1),
                         crop_of(path, box, True, 'never'))


@needs_turbojpeg
@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_is_folded_into_the_warp(tmp_path, decodes, orientation):
    """Every EXIF orientation: the region decoder reads the stored pixels and the crop is of
    the image as displayed (as OpenCV decodes it, orientation applied)."""
    path = tmp_path / 'oriented.jpg'
    path.write_bytes(_jpeg_with_orientation(textured_image()[..., ::-1], orientation))
    shown = cv2.imread(str(path))
    assert shown.shape[:2] == (SHAPE[::-1] if orientation >= 5 else SHAPE)
    for name, box in BOXES.items():
        decodes.clear()
        ours = crop_of(str(path), box, True, 'auto', max_reduce=1)
        assert decodes and decodes[0] is not None, name
        assert_same_crop(ours, crop_of(str(path), box, True, 'never'))


@needs_turbojpeg
def test_truncated_or_corrupt_jpeg_is_refused_by_the_region_decoder():
    data = np.frombuffer(cv2.imencode('.jpg', textured_image())[1].tobytes(), np.uint8)
    big = cv2.resize(textured_image(seed=1), None, fx=3.1, fy=3.1)
    other = np.frombuffer(cv2.imencode('.jpg', big)[1].tobytes(), np.uint8)
    fresh = {}  # decoded by another thread: its own, never failed, TurboJPEG handle
    worker = threading.Thread(target=lambda: fresh.update(
        out=jpeg_region.decode_region(other, (700, 500, 950, 700), 4)))
    worker.start()
    worker.join()
    assert jpeg_region.decode_region(data, (100, 150, 300, 250), 2) is not None
    assert jpeg_region.decode_region(data[:-200], (0, 0, 10, 10)) is None  # no end marker
    garbage = data.copy()
    garbage[600:2000] = 7  # scan data replaced: libjpeg warns, the decoder does not guess
    assert jpeg_region.decode_region(garbage, None) is None
    # libjpeg-turbo's handle is not reusable after an error: the next image still decodes
    after = jpeg_region.decode_region(other, (700, 500, 950, 700), 4)
    assert after is not None
    np.testing.assert_array_equal(after.pixels, fresh['out'].pixels)
    with pytest.raises(ValueError, match='factor'):
        jpeg_region.decode_region(data, None, 3)


def test_needed_box_covers_exactly_what_the_warp_reads():
    """Warping the box alone (its offset folded into the matrix) equals warping the image."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (120, 150, 4), dtype=np.uint8)
    for _ in range(30):
        m = cv2.getRotationMatrix2D(tuple(rng.uniform(-20, 170, 2)), rng.uniform(-180, 180),
                                    rng.uniform(0.3, 4.0))
        box = jpeg_region.needed_box(m, INPUT, (150, 120))
        full = cv2.warpAffine(img, m, INPUT, flags=cv2.INTER_LINEAR, borderValue=0)
        if box is None:
            assert not full.any()
            continue
        x0, y0, x1, y1 = box
        shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
        part = cv2.warpAffine(img[y0:y1 + 1, x0:x1 + 1], (np.vstack([m, [0, 0, 1]]) @ shift)[:2],
                              INPUT, flags=cv2.INTER_LINEAR, borderValue=0)
        # equal but for cv2's 1/32 px fixed-point positions (a missing pixel would read 0)
        assert np.abs(part.astype(int) - full.astype(int)).max() <= 1


def test_decoded_images_warp_as_rgbx_with_the_same_values():
    """An RGB array is warped through its RGBX box (OpenCV's 4-channel SIMD path): same values
    as warping the three channels; grey, RGBA and float images keep their own layout."""
    rgb = textured_image()
    rot = 33.0
    for img in (rgb, rgb[..., 0].copy(), np.dstack([rgb, rgb[..., :1]]), rgb.astype(np.float32)):
        results = dict(img=img, img_shape=img.shape[:2], bbox_rotation=rot,
                       bbox_center=np.array([200, 150], np.float32),
                       bbox_scale=np.array([230, 230], np.float32))
        out = TopdownAffine(INPUT)(results)['img']
        matrix = affine_module.get_warp_matrix(results['input_center'], results['input_scale'],
                                               rot, INPUT)
        expected = cv2.warpAffine(img, matrix, INPUT, flags=cv2.INTER_LINEAR, borderValue=0)
        assert out.shape == expected.shape and out.dtype == img.dtype
        assert np.abs(out.astype(float) - expected.astype(float)).max() <= 1


@pytest.mark.parametrize('orientation', [3, 6, 7])
def test_exif_oriented_jpeg_without_the_region_decoder(tmp_path, monkeypatch, orientation):
    """OpenCV's fallback decodes oriented JPEGs at full size: the same crops."""
    path = tmp_path / 'oriented.jpg'
    path.write_bytes(_jpeg_with_orientation(textured_image()[..., ::-1], orientation))
    monkeypatch.setattr(jpeg_region, '_LIB', None)
    monkeypatch.setattr(jpeg_region, '_LIB_SEARCHED', True)
    for box in BOXES.values():
        assert_same_crop(crop_of(str(path), box, False, 'auto'),
                         crop_of(str(path), box, False, 'never'))


@needs_turbojpeg
@pytest.mark.parametrize('orientation', [3, 6, 7])
def test_scaled_region_of_an_oriented_jpeg_keeps_geometry(tmp_path, decodes, orientation):
    """A small box in a big rotated photo, decoded at 1/4 from the stored pixels: the blobs
    drawn at the (displayed) keypoints land on the transformed keypoints."""
    dots = np.array([[803.4, 1002.8], [830.2, 1040.6], [851.7, 980.1]], np.float32)
    shown = ref.blob_image((1601, 1203), dots, sigma=6.0)  # as displayed, odd sizes
    stored = {3: cv2.rotate(shown, cv2.ROTATE_180),
              6: cv2.rotate(shown, cv2.ROTATE_90_COUNTERCLOCKWISE),
              7: cv2.rotate(cv2.transpose(shown), cv2.ROTATE_180)}[orientation]
    data = _jpeg_with_orientation(stored, orientation, quality=100)
    path = tmp_path / 'big.jpg'
    path.write_bytes(data)
    assert np.abs(cv2.imread(str(path)).astype(int) - shown).max() <= 8  # the convention
    results = LoadImage(reduce='auto')(dict(img_path=str(path), keypoints=dots,
                                            flip_indices=[0, 2, 1]))
    results.update(bbox_center=np.array([830, 1010], np.float32),
                   bbox_scale=np.array([96 * 4.4] * 2, np.float32), bbox_rotation=25.0)
    RandomFlip(prob=1.0)(results)
    out = TopdownAffine(INPUT)(results)
    assert decodes[0] is not None and decodes[0].factor == 4
    for x, y in out['transformed_keypoints']:
        np.testing.assert_allclose(ref.blob_centroid(out['img'], (x, y), 6), [x, y], atol=0.15)
