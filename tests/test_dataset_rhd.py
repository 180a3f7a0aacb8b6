"""RhdDataset: RHD's tip -> MCP order becomes hand21; the original pickle (written here from the
fixture's real values) reads like mmpose's json; depth and mask helpers; bad input; config."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import poseforge.datasets.multi_format as multi_format_module
import poseforge.datasets.transforms  # noqa: F401  (registers the pipeline)
from poseforge.datasets.base import DatasetError
from poseforge.datasets.rhd import (KEYPOINT_ORDER, RhdDataset, decode_rhd_depth,
                                    read_rhd_depth, rhd_hand_masks)
from poseforge.registry import DATASETS
from poseforge.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'cpm' / 'cpm_vgg19_rhd-368.py'


def make(**kwargs) -> RhdDataset:
    """The dataset without mmengine's serialisation (a gc.collect() of ~0.5 s per build)."""
    return RhdDataset(serialize_data=False, **kwargs)


@pytest.fixture(scope='module')
def fixture_json(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / 'rhd' / 'test_rhd.json').read_text())


def json_dataset(fixtures_dir) -> RhdDataset:
    return make(ann_file=str(fixtures_dir / 'rhd' / 'test_rhd.json'),
                data_prefix=dict(img=str(fixtures_dir / 'rhd')))


def by_id(dataset) -> dict[int, dict]:
    return {info['id']: info for info in (dataset.get_data_info(i) for i in range(len(dataset)))}


def original_records(fixture_json: dict) -> dict:
    """The fixture in the release's pickle format: per sample 42 rows (left hand, then right),
    metres, K; the annotated hand in its side's rows, the other hand out of view."""
    images = {im['id']: im for im in fixture_json['images']}
    records = {}
    for ann in fixture_json['annotations']:
        uv_vis = np.zeros((42, 3))
        uv_vis[:, :2] = -50.0  # the other hand: outside the image, not visible
        xyz = np.full((42, 3), 0.5)
        rows = slice(0, 21) if ann['hand_type'] == 'left' else slice(21, 42)
        uv_vis[rows] = np.asarray(ann['keypoints'], dtype=np.float64).reshape(21, 3)
        xyz[rows] = np.asarray(ann['joint_cam'], dtype=np.float64) / 1000.0  # mm -> metres
        cam = images[ann['image_id']]['cam_param']
        K = np.array([[cam['focal'][0], 0, cam['princpt'][0]],
                      [0, cam['focal'][1], cam['princpt'][1]], [0, 0, 1]], dtype=np.float32)
        records[ann['image_id']] = dict(uv_vis=uv_vis.astype(np.float32),
                                        xyz=xyz.astype(np.float32), K=K)
    return records


def write_pickle(records: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump(records, f, protocol=2)  # the release was written by Python 2
    return path


def test_rhd_order_becomes_hand21_on_named_joints(fixtures_dir, fixture_json):
    assert KEYPOINT_ORDER[4] == 1 and KEYPOINT_ORDER[1] == 4  # thumb tip / root
    hand = by_id(json_dataset(fixtures_dir))[111]
    ann = fixture_json['annotations'][0]
    assert ann['id'] == 111
    # canonical 4 = thumb tip = RHD 1; canonical 1 = thumb root = RHD 4 (values from the json)
    np.testing.assert_allclose(hand['keypoints'][4], (170.39999, 115.0), atol=1e-4)
    np.testing.assert_allclose(hand['keypoints'][1], (220.0, 82.51), atol=1e-4)
    np.testing.assert_allclose(hand['keypoints_3d'][4], (17.09, -73.71, 489.5), atol=1e-3)
    np.testing.assert_allclose(hand['keypoints'][0], ann['keypoints'][0][:2], atol=1e-4)
    # little finger: canonical 17 (root) = RHD 20, canonical 20 (tip) = RHD 17
    np.testing.assert_allclose(hand['keypoints'][17], ann['keypoints'][20][:2], atol=1e-4)
    np.testing.assert_allclose(hand['keypoints'][20], ann['keypoints'][17][:2], atol=1e-4)
    # after reordering every finger runs root -> tip: the root is nearer the wrist (3D, mm)
    wrist = hand['keypoints_3d'][0]
    for finger in range(5):
        root, tip = hand['keypoints_3d'][1 + 4 * finger], hand['keypoints_3d'][4 + 4 * finger]
        assert np.linalg.norm(root - wrist) < np.linalg.norm(tip - wrist)
    np.testing.assert_allclose(hand['K'], [[299, 0, 160], [0, 299, 160], [0, 0, 1]])
    assert hand['hand_side'] == 'left'


def test_json_3d_is_camera_frame_mm_that_projects_onto_the_keypoints(fixtures_dir):
    for hand in by_id(json_dataset(fixtures_dir)).values():
        uvw = hand['keypoints_3d'].astype(np.float64) @ hand['K'].T.astype(np.float64)
        np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], hand['keypoints'], atol=0.5)
        assert 300 < hand['keypoints_3d'][:, 2].min()  # hands 0.3-0.7 m away: millimetres


def test_pickle_reader_matches_the_json_reader(fixtures_dir, fixture_json, tmp_path):
    path = write_pickle(original_records(fixture_json), tmp_path / 'anno_evaluation.pickle')
    from_pickle = make(ann_file=str(path), data_prefix=dict(img=str(fixtures_dir / 'rhd')))
    from_json = by_id(json_dataset(fixtures_dir))
    assert len(from_pickle) == len(from_json) == 3
    for i in range(len(from_pickle)):
        info = from_pickle.get_data_info(i)
        expected = from_json[info['img_id']]  # mmpose's ids are the sample ids
        side = 0 if expected['hand_side'] == 'left' else 1
        assert info['id'] == 2 * info['img_id'] + side
        assert info['img_path'] == expected['img_path']
        assert info['hand_side'] == expected['hand_side']
        np.testing.assert_allclose(info['keypoints'], expected['keypoints'], atol=1e-4)
        np.testing.assert_array_equal(info['keypoints_visible'], expected['keypoints_visible'])
        np.testing.assert_allclose(info['keypoints_3d'], expected['keypoints_3d'], atol=1e-3)
        np.testing.assert_allclose(info['K'], expected['K'], atol=1e-4)
        # the documented box rule reproduces mmpose's converted boxes
        np.testing.assert_allclose(info['bbox'], expected['bbox'], atol=1e-3)


def two_hands_record(visible_right: int) -> dict:
    """A sample with a fully visible left hand and ``visible_right`` visible right-hand points
    (the remaining right points flagged visible but outside the 320 px image)."""
    rng = np.random.default_rng(0)
    uv_vis = np.ones((42, 3))
    uv_vis[:, :2] = rng.uniform(20, 300, (42, 2))
    uv_vis[21 + visible_right:, 0] = 330.0  # right of the image
    return dict(uv_vis=uv_vis, xyz=rng.uniform(0.1, 0.6, (42, 3)), K=np.eye(3))


def test_both_hands_are_instances_and_the_visibility_rule_keeps_them(tmp_path, monkeypatch):
    messages = []
    monkeypatch.setattr(multi_format_module, 'print_log', lambda msg, **kw: messages.append(msg))
    path = write_pickle({3: two_hands_record(21), 4: two_hands_record(9)},
                        tmp_path / 'anno_training.pickle')
    (tmp_path / 'color').mkdir()
    infos = by_id(make(ann_file=str(path)))
    # sample 3: both hands; sample 4: the right hand has 9 < 10 points in the image
    assert sorted(infos) == [6, 7, 8]
    assert [infos[i]['hand_side'] for i in (6, 7, 8)] == ['left', 'right', 'left']
    assert infos[7]['img_path'] == str(tmp_path / 'color' / '00003.png')
    record = two_hands_record(21)
    order = list(KEYPOINT_ORDER)
    np.testing.assert_allclose(infos[7]['keypoints'], record['uv_vis'][21:][order, :2],
                               atol=1e-4)
    np.testing.assert_allclose(infos[7]['keypoints_3d'], record['xyz'][21:][order] * 1000,
                               rtol=1e-6)
    assert any('dropped 1 of 4' in m and 'fewer than 10 visible' in m for m in messages)
    assert sorted(by_id(make(ann_file=str(path), min_visible_keypoints=9))) == [6, 7, 8, 9]


@pytest.mark.parametrize('edit, message', [
    (lambda r: r[7].__setitem__('uv_vis', np.zeros((40, 3))), "sample 7: uv_vis has 120"),
    (lambda r: r[7].pop('K'), "sample 7: missing 'K'"),
    (lambda r: r.__setitem__(7, [1, 2, 3]), 'sample 7: record is a list'),
    (lambda r: r[7]['xyz'].__setitem__((0, 0), np.nan), 'sample 7: xyz has non-finite'),
])
def test_malformed_pickle_record_names_the_id(tmp_path, edit, message):
    records = {3: two_hands_record(21), 7: two_hands_record(21)}
    edit(records)
    path = write_pickle(records, tmp_path / 'anno_training.pickle')
    with pytest.raises(DatasetError) as err:
        make(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))
    assert str(path) in str(err.value) and message in str(err.value)


class _Payload:
    def __reduce__(self):
        return (print, ('this must never run',))


def test_pickle_that_would_run_code_is_refused(tmp_path, capsys):
    path = write_pickle({3: dict(uv_vis=_Payload())}, tmp_path / 'anno_training.pickle')
    with pytest.raises(DatasetError, match=r'refusing to load (__builtin__|builtins)\.print'):
        make(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))
    assert 'must never run' not in capsys.readouterr().out
    path.write_bytes(b'not a pickle')
    with pytest.raises(DatasetError, match='not a readable RHD annotation pickle'):
        make(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))


def test_layout_errors_say_which_layout_is_expected(tmp_path):
    split = tmp_path / 'training'
    write_pickle({3: two_hands_record(21)}, split / 'anno_training.pickle')
    with pytest.raises(DatasetError) as err:
        make(ann_file='training', data_root=str(tmp_path))  # a folder: its anno_<folder>.pickle
    assert 'color' in str(err.value) and 'color/%05d.png' in str(err.value)
    (split / 'color').mkdir()
    assert len(make(ann_file='training', data_root=str(tmp_path))) == 2
    (tmp_path / 'evaluation').mkdir()
    with pytest.raises(DatasetError, match='has no anno_evaluation.pickle'):
        make(ann_file='evaluation', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'RhdDataset.*anno_nope\.pickle'):
        make(ann_file='anno_nope.pickle', data_root=str(tmp_path))


def test_depth_decoding_in_rgb_and_from_a_png_read_by_opencv(tmp_path):
    rgb = np.zeros((1, 3, 3), dtype=np.uint8)
    rgb[0, :, 0] = (1, 0, 255)    # R: high byte
    rgb[0, :, 1] = (2, 255, 255)  # G: low byte
    rgb[0, :, 2] = 77             # B: unused
    expected = np.array([[258, 255, 65535]]) / 65535 * 5  # (R * 256 + G) / (2^16 - 1) * 5 m
    np.testing.assert_allclose(decode_rhd_depth(rgb), expected, rtol=1e-6)
    np.testing.assert_allclose(decode_rhd_depth(rgb[..., ::-1], channel_order='bgr'), expected,
                               rtol=1e-6)
    path = tmp_path / '00000.png'
    cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR arrays
    np.testing.assert_allclose(read_rhd_depth(str(path)), expected, rtol=1e-6)
    with pytest.raises(ValueError, match='colour image'):
        decode_rhd_depth(np.zeros((4, 4), dtype=np.uint8))


def test_hand_masks_split_the_segmentation_classes():
    mask = np.array([[0, 1, 2, 17, 18, 33, 34]], dtype=np.uint8)
    left, right = rhd_hand_masks(mask)
    assert left.tolist() == [[False, False, True, True, False, False, False]]
    assert right.tolist() == [[False, False, False, False, True, True, False]]
    left3, _ = rhd_hand_masks(np.repeat(mask[..., None], 3, axis=2))
    assert np.array_equal(left3, left)


def test_cpm_config_builds_the_dataset_and_packs_a_sample(fixtures_dir):
    import poseforge.datasets  # noqa: F401  (collate function)
    folder = str(fixtures_dir / 'rhd')
    options = {f'{loader}.dataset.{key}': value
               for loader in ('train_dataloader', 'val_dataloader')
               for key, value in (('data_root', folder), ('ann_file', 'test_rhd.json'))}
    cfg = load_config(str(CONFIG), options)
    with DefaultScope.overwrite_default_scope('poseforge'):
        val = DATASETS.build(cfg.val_dataloader.dataset)
        train_packed = DATASETS.build(cfg.train_dataloader.dataset)[0]
        packed = val[0]
    assert tuple(packed['inputs'].shape) == (3, 368, 368)
    meta = packed['data_samples']['meta']
    assert meta['id'] == 111 and meta['hand_side'] == 'left'
    assert meta['keypoints_3d'].shape == (21, 3) and meta['K'].shape == (3, 3)
    # the box is 1.2x the keypoint box, so 2.2 / 1.2 of its longer side (121.464) is NSRM's crop
    np.testing.assert_allclose(meta['input_to_image'][0, 0], 121.464 * 2.2 / 1.2 / 368,
                               rtol=1e-4)
    assert tuple(train_packed['data_samples']['heatmaps'].shape) == (21, 46, 46)
