"""MHP's format module (poseforge.formats.mhp), shared by the loader and the generator's writer:
the two index maps are each other's inverse and match the docs; joints files, wrist rule and
calibration pickles round-trip through writer and reader."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from poseforge.formats import mhp as fmt
from poseforge.generation import mhp_writer
from poseforge.skeletons import HAND21

# docs/datasets.md, MHP: fingers TH thumb, F4 index, F3 middle, F2 ring, F1 little; parts
# KNU1_B = MCP, KNU1_A = PIP, KNU2_A = DIP, KNU3_A = tip; the root is PALM_POSITION.
DOC_LINE = {'wrist': 'PALM_POSITION', 'thumb1': 'TH_KNU1_B', 'index2': 'F4_KNU1_A',
            'middle3': 'F3_KNU2_A', 'ring1': 'F2_KNU1_B', 'little4': 'F1_KNU3_A'}


def random_hand(seed: int) -> np.ndarray:
    """A hand21 hand (wrist at 0) in mm, not degenerate."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 40.0, (21, 3)) + np.array([0.0, 0.0, 400.0])


def test_index_maps_are_inverse_and_follow_the_docs():
    to_canonical, to_mhp = fmt.MHP_TO_CANONICAL, fmt.CANONICAL_TO_MHP
    assert sorted(to_canonical) == list(range(21)) and sorted(to_mhp) == list(range(21))
    assert np.array_equal(to_canonical[to_mhp], np.arange(21))
    assert np.array_equal(to_mhp[to_canonical], np.arange(21))
    for joint, line in DOC_LINE.items():
        i = HAND21.keypoint_names.index(joint)
        assert fmt.MHP_LINE_NAMES[to_canonical[i]] == line  # canonical <- file line
        assert to_mhp[fmt.MHP_LINE_NAMES.index(line)] == i  # file line <- canonical
    # "take" semantics on real arrays, both ways
    lines = np.arange(21 * 3, dtype=float).reshape(21, 3)
    assert np.array_equal(lines[to_canonical][to_mhp], lines)
    with pytest.raises(ValueError):
        to_mhp[0] = 1  # the maps are read-only


def test_joints_file_round_trip_gives_back_the_wrist(tmp_path):
    """Writer: hand21 with a wrist -> palm line; reader + wrist rule: the same wrist again."""
    hand = random_hand(0)
    text = mhp_writer.joints_text(hand, 'right')
    assert [line.split()[0] for line in text.splitlines()] == list(fmt.MHP_LINE_NAMES)
    path = tmp_path / '0_joints.txt'
    path.write_text(text)
    lines = fmt.read_joints_file(str(path))
    canonical = fmt.palm_to_wrist(lines[fmt.MHP_TO_CANONICAL])
    np.testing.assert_allclose(canonical, hand, atol=2e-6)  # 6 decimals in the file
    # the palm line is the inverse rule, and the normal a unit vector
    np.testing.assert_allclose(lines[20], fmt.wrist_to_palm(hand), atol=1e-6)
    assert np.linalg.norm(lines[21]) == pytest.approx(1.0, abs=1e-5)


def test_wrist_rule_and_its_inverse_on_batches():
    hands = np.stack([random_hand(s) for s in range(4)])
    palms = fmt.wrist_to_palm(hands)
    with_palm = hands.copy()
    with_palm[:, 0] = palms
    np.testing.assert_allclose(fmt.palm_to_wrist(with_palm), hands, atol=1e-9)
    ring_mcp = hands[:, HAND21.keypoint_names.index('ring1')]
    np.testing.assert_allclose(palms, (hands[:, 0] + ring_mcp) / 2, atol=1e-9)  # half-way
    with pytest.raises(ValueError, match='wrist anchor'):
        fmt.palm_to_wrist(hands, anchor='wrist')


def test_calibration_pickles_round_trip_and_refuse_code(tmp_path):
    vector = np.array([0.25, -1.5, 3.0])
    blob = fmt.calibration_pickle(vector)
    assert blob[:2] == b'\x80\x02' and b'cnumpy.core.multiarray\n' in blob  # as the release
    assert b'_codecs' not in blob  # Python 2 can load it
    (tmp_path / 'rvec.pkl').write_bytes(blob)
    (tmp_path / 'tvec.pkl').write_bytes(fmt.calibration_pickle(2 * vector))
    rvec, tvec = fmt.read_calibration(str(tmp_path))
    np.testing.assert_array_equal(rvec, vector)
    np.testing.assert_array_equal(tvec, 2 * vector)

    class Exploit:
        def __reduce__(self):
            return (print, ('pwned',))

    (tmp_path / 'rvec.pkl').write_bytes(pickle.dumps(Exploit(), protocol=2))
    with pytest.raises(fmt.MhpFormatError, match=r"rvec\.pkl. is not a readable.*refusing .*print"):
        fmt.read_calibration(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='webcam'):
        fmt.read_calibration(str(tmp_path / 'webcam_9'))


def test_joints_file_errors_name_file_and_line(tmp_path):
    lines = fmt.joints_file_text(np.zeros((22, 3))).splitlines()
    lines[3] = lines[3].replace('F4_KNU3_A', 'F4_TIP')
    path = tmp_path / '0_joints.txt'
    path.write_text('\n'.join(lines))
    with pytest.raises(fmt.MhpFormatError, match=r"0_joints\.txt', line 4 .*'F4_KNU3_A'"):
        fmt.read_joints_file(str(path))


def test_box_rule_truncates_each_padded_side():
    keypoints = np.array([[[100.4, 50.9], [200.2, 150.1]]])
    box = fmt.padded_keypoint_bbox(keypoints, np.array([390.0]))
    assert box.tolist() == [[80.0, 30.0, 220.0, 170.0]]  # pad 20 px at 390 mm
    box = fmt.padded_keypoint_bbox(keypoints, np.array([780.0]))
    assert box.tolist() == [[60.0, 10.0, 240.0, 190.0]]  # 40 px at twice the depth
