"""The relative-depth encoding and the 3D reconstruction on real hands (RHD, MHP with lens
distortion), the root-depth estimate, and the 3D metric's root and granted-quantity names."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poseforge.codecs.relative_depth import (RelativeDepth, encode_relative_depth,
                                             estimate_root_depth, project_points,
                                             reconstruct_3d, reconstruct_3d_estimated,
                                             undistort_points)
from poseforge.datasets.mhp import MhpDataset
from poseforge.datasets.rhd import RhdDataset
from poseforge.evaluation.metrics.keypoint_3d_metrics import Hand3DMetric


@pytest.fixture(scope='module')
def real_hands(fixtures_dir) -> list[dict]:
    """RHD's three hands (pinhole) and MHP's four views of one hand (distorting webcams)."""
    rhd = RhdDataset(ann_file=str(fixtures_dir / 'rhd' / 'test_rhd.json'),
                     data_root=str(fixtures_dir / 'rhd'), data_prefix=dict(img=''),
                     serialize_data=False)
    mhp = MhpDataset(data_root=str(fixtures_dir / 'mhp'), serialize_data=False)
    return ([rhd.get_data_info(i) for i in range(len(rhd))]
            + [mhp.get_data_info(i) for i in range(len(mhp))])


def test_encode_then_decode_returns_the_true_3d(real_hands):
    """With the true 2D (the dataset's own projections, distorted for MHP), K, root depth and
    L_ref, decoding the encoded depths gives back every joint to 1e-3 mm."""
    assert any(info.get('dist') is not None for info in real_hands)
    for info in real_hands:
        joints = info['keypoints_3d'].astype(np.float64)
        K = info['K'].astype(np.float64)
        depth, root, length = encode_relative_depth(joints)
        assert depth[0] == 0 and np.isclose(length, np.linalg.norm(joints[10] - joints[9]))
        uv = undistort_points(info['keypoints'].astype(np.float64), K, info.get('dist'))
        # the loaders' 2D are float32: 1e-4 px at ~0.5 m is ~0.1 mm; project the truth for
        # the exact 2D instead, through the distortion for MHP
        if info.get('dist') is None:
            assert np.abs(project_points(joints, K) - info['keypoints']).max() < 0.1
            uv = project_points(joints, K)
        else:
            import cv2
            distorted, _ = cv2.projectPoints(joints, np.zeros(3), np.zeros(3), K,
                                             info['dist'].astype(np.float64))
            assert np.abs(distorted[:, 0] - info['keypoints']).max() < 1e-2
            uv = undistort_points(distorted[:, 0], K, info['dist'])
        rebuilt = reconstruct_3d(uv, depth, K, root, length)
        assert np.abs(rebuilt - joints).max() < 1e-3
        # the codec gives the same, and so does the differentiable torch path
        codec = RelativeDepth()
        encoded = codec.encode(joints)
        assert np.allclose(encoded['keypoint_depth'], depth, atol=1e-6)
        assert encoded['keypoint_depth_weights'].all()
        uv_t = torch.tensor(uv, requires_grad=True)
        rebuilt_t = reconstruct_3d(uv_t, torch.tensor(depth), torch.tensor(K),
                                   torch.tensor(root), torch.tensor(length))
        assert torch.allclose(rebuilt_t, torch.tensor(joints), atol=1e-3)
        rebuilt_t.sum().backward()
        assert uv_t.grad is not None and torch.isfinite(uv_t.grad).all()


def test_root_depth_is_solved_from_the_bone_length(real_hands):
    """Nothing granted: the root depth that gives the reference bone its length is the true
    one; a wrong bone-length prior scales the whole hand by prior / truth."""
    info = real_hands[0]
    joints = info['keypoints_3d'].astype(np.float64)
    K = info['K'].astype(np.float64)
    depth, root, length = encode_relative_depth(joints)
    uv = project_points(joints, K)
    assert estimate_root_depth(uv, depth, K) * length == pytest.approx(root, rel=1e-9)
    assert np.abs(reconstruct_3d_estimated(uv, depth, K, length) - joints).max() < 1e-6
    scaled = reconstruct_3d_estimated(uv, depth, K, 1.2 * length)
    assert np.allclose(scaled, 1.2 * joints, atol=1e-6)  # the same rays, 1.2x farther
    clamped = reconstruct_3d_estimated(uv, depth, K, 1.2 * length, root_range=(100.0, 450.0))
    assert clamped[0, 2] == pytest.approx(450.0)
    # batched over samples
    batch = np.stack([joints, joints + [10.0, -5.0, 80.0]])
    d, r, l = encode_relative_depth(batch)
    uvb = project_points(batch, np.stack([K, K]))
    assert np.allclose(estimate_root_depth(uvb, d, np.stack([K, K])) * l, r)


def test_metric_names_the_root_and_what_was_granted():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 40, size=(6, 21, 3)) + [0, 0, 500]
    pred = gt + rng.normal(0, 5, size=gt.shape)

    def evaluate(metric, given=None, meta=None):
        metric.dataset_meta = meta or {}
        samples = [dict(pred_keypoints_3d=p, keypoints_3d=g) for p, g in zip(pred, gt)]
        if given is not None:
            for s in samples:
                s['pred_keypoints_3d_given'] = given
        metric.process({}, samples)
        return metric.evaluate(len(samples))

    wrist = evaluate(Hand3DMetric(scale_align=False), 'gt-root-depth+bone')
    assert list(wrist) == ['AUC3D_20-50/wrist/gt-root-depth+bone',
                           'EPE3D/wrist/gt-root-depth+bone',
                           'EPE3D_median/wrist/gt-root-depth+bone']
    # hand3d's palm centre on wrist-rooted hands: the mean of the wrist and the middle MCP
    palm = evaluate(Hand3DMetric(root='palm', scale_align=False), 'no-gt')
    centre = lambda x: x - 0.5 * (x[:, :1] + x[:, 9:10])  # noqa: E731
    expected = np.linalg.norm(centre(pred) - centre(gt), axis=-1).mean()
    assert palm['EPE3D/palm/no-gt'] == pytest.approx(expected)
    assert palm['EPE3D/palm/no-gt'] != pytest.approx(wrist['EPE3D/wrist/gt-root-depth+bone'])
    # STB / MHP loaded with root='palm': joint 0 is the palm centre itself
    stb_meta = dict(root_joint='palm', keypoint_names=['palm'] + ['x'] * 20)
    auto = evaluate(Hand3DMetric(scale_align=False), meta=stb_meta)
    assert 'EPE3D/palm' in auto
    assert auto['EPE3D/palm'] == pytest.approx(wrist['EPE3D/wrist/gt-root-depth+bone'])
    with pytest.raises(ValueError, match='palm centre'):
        evaluate(Hand3DMetric(root='wrist'), meta=stb_meta)
    # predictions reconstructed from different granted quantities are not averaged together
    mixed = Hand3DMetric()
    mixed.process({}, [dict(pred_keypoints_3d=pred[0], keypoints_3d=gt[0],
                            pred_keypoints_3d_given='no-gt'),
                       dict(pred_keypoints_3d=pred[1], keypoints_3d=gt[1],
                            pred_keypoints_3d_given='gt-root-depth+bone')])
    with pytest.raises(ValueError, match='different granted'):
        mixed.evaluate(2)
    # another prediction key, e.g. the estimator's no-ground-truth reconstruction
    est = Hand3DMetric(pred_key='pred_keypoints_3d_est', scale_align=False)
    est.process({}, [dict(pred_keypoints_3d_est=p, keypoints_3d=g,
                          pred_keypoints_3d_est_given='no-gt') for p, g in zip(pred, gt)])
    assert est.evaluate(6)['EPE3D/wrist/no-gt'] == pytest.approx(
        wrist['EPE3D/wrist/gt-root-depth+bone'])


def test_estimator_predicts_both_reconstructions_and_flip_averages_depth(real_hands):
    """The 3D estimator's predict output: 2D in image px, relative depths (flip test: the mean
    of the plain and the mirrored crop's, reordered), the granted 3D (its root at the true root
    depth plus the predicted root offset) and the estimated one, each labelled."""
    from test_dggan import tiny_pose_net

    from poseforge.registry import MODELS
    torch.manual_seed(0)
    net = MODELS.build(dict(tiny_pose_net(), test_cfg=dict(flip_test=True, granted='gt')))
    net.eval()
    info = real_hands[0]
    meta = dict(input_to_image=np.array([[2.0, 0, 10], [0, 2.0, 20]], np.float32),
                K=info['K'], keypoints_3d=info['keypoints_3d'], flip_indices=list(range(21)))
    inputs = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        result = net.predict(inputs, dict(meta=[meta]))[0]
        _, plain = net.forward_pose(inputs)
        _, mirrored = net.forward_pose(inputs.flip(-1))
    assert np.allclose(result['pred_keypoint_depth'], (0.5 * (plain + mirrored))[0].numpy(),
                       atol=1e-6)
    assert result['pred_keypoints_3d_given'] == 'gt-root-depth+bone'
    assert result['pred_keypoints_3d_est_given'] == 'no-gt'
    _, root, length = encode_relative_depth(info['keypoints_3d'].astype(np.float64))
    assert result['pred_keypoints_3d'][0, 2] == pytest.approx(
        root + length * result['pred_keypoint_depth'][0], rel=1e-5)
    # both reconstructions lie on the rays of the predicted 2D
    for key in ('pred_keypoints_3d', 'pred_keypoints_3d_est'):
        assert np.allclose(project_points(result[key].astype(np.float64), info['K']),
                           result['pred_keypoints'], atol=1e-2)
    assert 100.0 <= result['pred_keypoints_3d_est'][0, 2] <= 3000.0  # root_depth_range
    # without ground truth (a demo) the main prediction is the estimated one
    net.test_cfg['granted'] = 'none'
    with torch.no_grad():
        demo = net.predict(inputs, dict(meta=[dict(meta, keypoints_3d=None)]))[0]
    assert demo['pred_keypoints_3d_given'] == 'no-gt'
    assert np.allclose(demo['pred_keypoints_3d'], demo['pred_keypoints_3d_est'])


def test_inference_api_returns_the_demo_reconstruction(tiny_synth):
    """``inference_topdown`` on a DGGAN config (whose test pipeline also loads depth, for the
    figures): the 3D joints with nothing granted, on the rays of the predicted 2D through the
    given ``K``; without ``K`` still a 3D hand (default focal length, box centre)."""
    from conftest import ROOT

    from poseforge.apis import inference_topdown, init_model
    from poseforge.datasets.synth_hand import SynthHandDataset
    torch.manual_seed(0)
    model = init_model(ROOT / 'configs' / 'dggan' /
                       'dggan_cpm-light_synth-hands-128_stage4-joint.py')
    info = SynthHandDataset(ann_file='annotations/test.json', data_root=str(tiny_synth),
                            serialize_data=False).get_data_info(0)
    [result] = inference_topdown(model, info['img_path'], bboxes=[info['bbox']], K=info['K'])
    joints = result['keypoints_3d'].astype(np.float64)
    assert joints.shape == (21, 3) and result['keypoint_depth'].shape == (21,)
    assert np.allclose(project_points(joints, info['K']), result['keypoints'], atol=1e-2)
    # nothing granted: the root depth solved for the size prior (an untrained network's 2D
    # may leave no exact solution: the solver's nearest depth, clamped to the plausible range)
    test_cfg = model.pose_net.test_cfg
    expected = reconstruct_3d_estimated(result['keypoints'].astype(np.float64),
                                        result['keypoint_depth'].astype(np.float64), info['K'],
                                        test_cfg['bone_length_prior'],
                                        root_range=test_cfg['root_depth_range'])
    assert np.allclose(joints, expected, atol=1e-2)
    [guess] = inference_topdown(model, info['img_path'], bboxes=[info['bbox']])
    assert np.isfinite(guess['keypoints_3d']).all() and guess['keypoints_3d'][0, 2] > 0
