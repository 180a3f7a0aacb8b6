"""The hand side as palm winding x palm facing: the geometry against generated 3D hands, the
label through flips, the classifier learning, the metric, and the demo pipeline voting with it."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from poseforge.codecs.hand_side import (left_prob_from_palm, palm_facing_target, palm_winding,
                                        relative_winding, side_vote_weight)
from poseforge.datasets.transforms import GeneratePalmTarget, RandomFlip, TopdownAffine
from poseforge.datasets.transforms.bbox import GetBBoxCenterScale
from poseforge.evaluation.metrics import HandSideAccuracy
from poseforge.models.classifiers import PalmClassifier
from poseforge.tracking import HandTracker, RealtimePosePipeline


@pytest.fixture(scope='module')
def both_sides(tmp_path_factory):
    """Generated views of left and right hands with their camera-frame 3D joints."""
    from poseforge.generation.synth_hands import GenerationConfig, generate_dataset
    out = tmp_path_factory.mktemp('sides')
    generate_dataset(out, num=16, views=2, seed=7, size=64, workers=1, test_fraction=0.0,
                     cfg=GenerationConfig(left_fraction=0.5, save_depth=False, gallery=False))
    ann = json.loads((out / 'annotations' / 'train.json').read_text())
    sides = {im['id']: im['hand_side'] for im in ann['images']}
    load = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
    kpts = np.array([load(a['keypoints']) for a in ann['annotations']]).reshape(-1, 21, 3)
    joints = np.array([load(a['keypoints_3d']) for a in ann['annotations']]).reshape(-1, 21, 3)
    is_left = np.array([sides[a['image_id']] == 'left' for a in ann['annotations']])
    return kpts[..., :2], joints, is_left


def test_palm_facing_from_2d_keypoints_and_side_matches_the_3d_hand(both_sides):
    """The label needs no 3D: the projected winding with the side gives exactly whether the 3D
    palm normal (index1 - wrist) x (little1 - wrist), reversed for a mirrored left hand,
    points back at the camera (at the origin of the camera frame)."""
    kpts, joints, is_left = both_sides
    assert 0 < is_left.sum() < len(is_left)
    normal = np.cross(joints[:, 5] - joints[:, 0], joints[:, 17] - joints[:, 0])
    normal[is_left] *= -1
    facing_3d = (normal * joints[:, 0]).sum(1) < 0
    assert 0 < facing_3d.sum() < len(facing_3d)  # both palms and backs among the views
    np.testing.assert_array_equal(palm_facing_target(kpts, is_left), facing_3d)
    # and the side follows back from the facing and the winding
    left = left_prob_from_palm(kpts, facing_3d.astype(float), edge_on=0.0)
    np.testing.assert_array_equal(left >= 0.5, is_left)


def test_a_mirror_keeps_the_facing_and_swaps_the_side():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 100, (50, 21, 2))
    is_left = rng.random(50) < 0.5
    mirrored = kpts.copy()
    mirrored[..., 0] = 100 - mirrored[..., 0]
    np.testing.assert_allclose(palm_winding(mirrored), -palm_winding(kpts), rtol=1e-12)
    np.testing.assert_array_equal(palm_facing_target(mirrored, ~is_left),
                                  palm_facing_target(kpts, is_left))
    prob = rng.random(50)
    sure = np.abs(relative_winding(kpts)) >= 0.02
    np.testing.assert_allclose(left_prob_from_palm(mirrored, prob)[sure],
                               1 - left_prob_from_palm(kpts, prob)[sure])


def test_an_edge_on_palm_gives_no_side_vote():
    kpts = np.zeros((2, 21, 2))
    kpts[:, :, 0] = np.linspace(0, 100, 21)  # every point on one line: winding 0
    kpts[1, 17] = [20, 60]  # little1 off the line: a palm seen at an angle
    left = left_prob_from_palm(kpts, np.array([0.9, 0.9]))
    assert np.isnan(left[0]) and np.isfinite(left[1])


def _sample(side: str | None, visible: float = 2.0) -> dict:
    kpts = np.zeros((1, 21, 2), np.float32)
    kpts[0, :, 0], kpts[0, :, 1] = 40, 40
    kpts[0, 0] = [40, 70]   # wrist below
    kpts[0, 5] = [52, 40]   # index1 up-right
    kpts[0, 17] = [30, 42]  # little1 up-left: a right palm (or a left back), fingers up
    vis = np.full((1, 21), visible, np.float32)
    return dict(img=np.zeros((100, 100, 3), np.uint8), img_shape=(100, 100),
                bbox=np.array([[20, 30, 60, 80]], np.float32), keypoints=kpts,
                keypoints_visible=vis, hand_side=side, flip_indices=list(range(21)))


@pytest.mark.parametrize('side', ['left', 'right'])
def test_palm_target_is_the_same_with_and_without_the_flip(side):
    labels = []
    for prob in (0.0, 1.0):
        results = _sample(side)
        for step in (GetBBoxCenterScale(), RandomFlip(prob=prob),
                     TopdownAffine(input_size=(32, 32)), GeneratePalmTarget()):
            results = step(results)
        assert results['flip'] == bool(prob)
        labels.append(float(results['palm_facing'][0]))
    # winding of (wrist, index1, little1) above: negative -> a right palm faces the camera
    expected = 1.0 if side == 'right' else 0.0
    assert labels == [expected, expected]


@pytest.mark.parametrize('side, visible', [(None, 2.0), ('right', 0.0)])
def test_palm_target_is_unknown_without_a_side_or_a_labelled_palm(side, visible):
    results = GeneratePalmTarget()(_sample(side, visible))
    assert results['palm_facing'].tolist() == [-1.0]


def test_palm_classifier_learns_facing_and_ignores_unknown_labels():
    torch.manual_seed(0)
    model = PalmClassifier(input_size=(32, 32), widths=(8, 16))
    inputs = torch.randn(8, 3, 32, 32)
    target = torch.tensor([1, 0, 1, 0, 1, 0, -1, -1], dtype=torch.float32)
    samples = dict(palm_facing=target[:, None])
    optim = torch.optim.Adam(model.parameters(), 1e-2)
    first = None
    for _ in range(30):
        loss = model(inputs, samples, mode='loss')['loss_palm']
        first = float(loss.detach()) if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert float(loss.detach()) < 0.3 * first
    # the unknown samples carry no loss: changing their input changes nothing
    model.eval()
    other = inputs.clone()
    other[6:] = 5.0
    assert torch.equal(model(inputs, samples, mode='loss')['loss_palm'],
                       model(other, samples, mode='loss')['loss_palm'])
    preds = model(inputs, dict(meta=[{'id': i} for i in range(8)]), mode='predict')
    assert [p['id'] for p in preds] == list(range(8))
    assert ((np.array([p['pred_palm_prob'] for p in preds[:6]]) >= 0.5)
            == target[:6].numpy().astype(bool)).all()
    with pytest.raises(ValueError, match='palm_facing'):
        model(inputs, {}, mode='loss')


def test_hand_side_accuracy_scores_palm_and_side(both_sides):
    kpts, _, is_left = both_sides
    truth = palm_facing_target(kpts, is_left)

    def score(prob):
        metric = HandSideAccuracy()
        metric.process({}, [dict(id=i, keypoints=k, keypoints_visible=np.ones(21),
                                 hand_side='left' if lft else 'right', pred_palm_prob=p)
                            for i, (k, lft, p) in enumerate(zip(kpts, is_left, prob))]
                       + [dict(id=-1, keypoints=kpts[0], hand_side=None, pred_palm_prob=0.5)])
        return metric.compute_metrics(metric.results)

    right = score(truth.astype(float))
    assert right['palm acc'] == 1.0 and right['side acc'] == 1.0
    assert 0.5 < right['side decided'] <= 1.0
    wrong = score(1.0 - truth)
    assert wrong['palm acc'] == 0.0 and wrong['side acc'] == 0.0


# --------------------------------------------------------------------------- the demo's votes
def _right_palm_keypoints(box: np.ndarray) -> np.ndarray:
    """21 keypoints of a right hand whose palm faces the camera (negative winding) in ``box``."""
    x1, y1, x2, y2 = box
    unit = np.zeros((21, 2))
    unit[:, 0] = np.linspace(0.3, 0.7, 21)
    unit[:, 1] = 0.4
    unit[0], unit[5], unit[17] = [0.5, 0.9], [0.7, 0.3], [0.3, 0.35]
    return (unit * [x2 - x1, y2 - y1] + [x1, y1]).astype(np.float32)


class _Pose:
    """The same right palm wherever the crop is (the hand stands still in the frame)."""
    dataset_meta = dict(skeleton='hand21', num_keypoints=21)

    def __call__(self, frame, boxes):
        kpts = np.repeat(_right_palm_keypoints(np.array([40, 40, 120, 120]))[None], len(boxes), 0)
        return dict(keypoints=kpts, keypoint_scores=np.full(kpts.shape[:2], 0.9, np.float32))


def _detector(frame):
    """One hand, which the detector (wrongly) calls left."""
    return np.array([[40, 40, 120, 120]], np.float32), np.ones(1), np.ones(1)


class _PalmSide:
    """A side estimator whose classifier always sees the palm: with the keypoints above,
    a right hand."""

    def __init__(self):
        self.calls = 0

    def due(self, age):
        return True

    def palm_prob(self, frame, boxes):
        return np.ones(len(boxes))

    def votes(self, frame, boxes, keypoints):
        self.calls += 1
        palm = self.palm_prob(frame, boxes)
        return left_prob_from_palm(keypoints, palm), side_vote_weight(keypoints, palm)


@pytest.mark.parametrize('with_side_model', [False, True])
def test_pipeline_takes_the_side_from_palm_and_keypoints_not_the_detector(with_side_model):
    side_model = _PalmSide() if with_side_model else None
    pipeline = RealtimePosePipeline(_Pose(), _detector, tracker=HandTracker(detect_every=2),
                                    side_estimator=side_model)
    frame = np.zeros((240, 320, 3), np.uint8)
    for index in range(5):
        record = pipeline.process(frame, index / 30, index)
    (hand,) = record['instances']
    assert hand['side'] == ('right' if with_side_model else 'left')
    if with_side_model:
        assert side_model.calls == 5 and 'side' in pipeline.timer.summary()


def test_palm_side_estimator_crops_like_the_classifier_and_votes_each_hand():
    from poseforge.tracking import PalmSideEstimator

    class Classifier(PalmClassifier):
        def palm_prob(self, inputs):
            # palm when the crop is bright: the estimator must crop the right region
            return (inputs.mean((1, 2, 3)) > 0).float()

    model = Classifier(input_size=(32, 32), widths=(8, 16)).eval()
    model.cfg = dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='GetBBoxCenterScale', padding=1.0), dict(type='TopdownAffine')])))
    model.dataset_meta = {}
    estimator = PalmSideEstimator(model, every=3)
    assert [estimator.due(age) for age in range(1, 8)] == [True, False, False, True, False,
                                                          False, True]
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[:, 100:] = 255  # bright right half
    boxes = np.array([[10, 10, 90, 90], [110, 10, 190, 90]], np.float32)
    kpts = np.stack([_right_palm_keypoints(b) for b in boxes])
    np.testing.assert_array_equal(estimator.palm_prob(frame, boxes), [0.0, 1.0])
    # dark crop: back of a right hand with this winding -> left; bright: palm -> right
    np.testing.assert_array_equal(estimator(frame, boxes, kpts), [1.0, 0.0])
    with pytest.raises(ValueError, match='every'):
        PalmSideEstimator(model, every=0)


# --------------------------------------------------------------------------- the measuring tool
def test_hand_side_eval_scores_the_mirrored_set_as_the_other_side(tiny_synth, tmp_path, capsys):
    """With a classifier that answers "palm" whatever it sees, a hand's side is right exactly
    when its palm faces the camera, mirrored or not: both passes must score the share of
    palm-facing hands, computed here from the labels."""
    import hand_side_eval

    from conftest import QUICKSTART_CONFIG, ROOT
    from poseforge.apis import init_model
    config = str(ROOT / 'configs' / 'hand_side' / 'palm_synth-hands-96.py')
    data = [f'test_dataloader.dataset.data_root={tiny_synth}']
    classifier = init_model(config, cfg_options={'test_dataloader.dataset.data_root':
                                                 str(tiny_synth)})
    with torch.no_grad():
        for p in classifier.parameters():
            p.zero_()
        classifier.logit.bias.fill_(3.0)  # sigmoid(3) = 0.95: "palm", always
    torch.save({'state_dict': classifier.state_dict()}, tmp_path / 'palm.pth')
    torch.save({'state_dict': init_model(QUICKSTART_CONFIG).state_dict()}, tmp_path / 'pose.pth')
    assert hand_side_eval.main([config, str(tmp_path / 'palm.pth'),
                                '--pose-config', QUICKSTART_CONFIG,
                                '--pose-checkpoint', str(tmp_path / 'pose.pth'), '--mirror',
                                '--max-hands', '6', '--cfg-options', *data]) == 0
    summary = json.loads(capsys.readouterr().out)
    from poseforge.utils.config import load_config
    hands = hand_side_eval.labelled_hands(
        load_config(config, {'test_dataloader.dataset.data_root': str(tiny_synth)}), 6)
    kpts = np.stack([h['keypoints'] for h in hands])
    decided = np.abs(relative_winding(kpts)) >= 0.02
    assert decided.any()
    palm_share = palm_facing_target(kpts, [h['is_left'] for h in hands])[decided].mean()
    for name in ('original', 'mirrored'):
        assert summary[name]['hands'] == 6
        assert summary[name]['labelled keypoints']['side_acc'] == pytest.approx(palm_share,
                                                                                abs=1e-4)
    assert summary['all']['hands'] == 12


def test_palm_classifier_mirror_test_averages_the_crop_and_its_mirror():
    torch.manual_seed(0)
    model = PalmClassifier(input_size=(32, 32), widths=(8, 16)).eval()
    inputs = torch.randn(3, 3, 32, 32)
    plain = torch.sigmoid(model.network(inputs))
    mirror = torch.sigmoid(model.network(inputs.flip(-1)))
    assert not torch.allclose(plain, mirror)  # the network itself is not mirror-symmetric
    torch.testing.assert_close(model.palm_prob(inputs), (plain + mirror) / 2)
    torch.testing.assert_close(model.palm_prob(inputs.flip(-1)), model.palm_prob(inputs))
    model.test_cfg['flip_test'] = False
    torch.testing.assert_close(model.palm_prob(inputs), plain)


def test_side_votes_weigh_certain_open_palms_over_doubtful_ones():
    kpts = np.stack([_right_palm_keypoints(np.array([0, 0, 100, 100]))] * 3)
    kpts[2, 17] = kpts[2, 0] + 0.9 * (kpts[2, 5] - kpts[2, 0]) + [1, 0]  # nearly edge-on
    weight = side_vote_weight(kpts, np.array([1.0, 0.55, 1.0]))
    assert weight[0] == pytest.approx(1.0) and weight[1] == pytest.approx(0.1)
    assert 0 < weight[2] < 0.3
    # one sure vote for right outweighs three doubtful ones for left
    from poseforge.tracking import Track
    track = Track(id=0, box=np.zeros(4, np.float32))
    HandTracker.vote_side(track, 0.0, 1.0)
    for _ in range(3):
        HandTracker.vote_side(track, 0.6, 0.1)
    assert track.side == 'right' and track.side_votes == 4
    HandTracker.vote_side(track, np.nan, 1.0)
    HandTracker.vote_side(track, 1.0, 0.0)
    assert track.side_votes == 4  # no vote: NaN or zero weight
