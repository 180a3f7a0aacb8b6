"""Flip test is exact: perfect heatmaps decode to their centres with and without flip test,
through ``TopdownPoseEstimator.predict``, for every stride, for the CPM and the NSRM heads."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import poseforge.models  # noqa: F401  (registers the models)
from poseforge.codecs.msra_heatmap import MSRAHeatmap
from poseforge.models.utils import flip_heatmaps, flip_keypoints
from poseforge.registry import MODELS
from poseforge.skeletons import HAND21

#: a left/right permutation (5 keypoints: a nose and two pairs), as COCO's flip_indices
PAIRS = [0, 2, 1, 4, 3]
#: image px = input px + (10, -5) (a translated crop): tolerances stay in px
INPUT_TO_IMAGE = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, -5.0]])


class PerfectMaps(nn.Module):
    """Backbone stand-in: the codec's exact Gaussians of known keypoints, for the plain input
    and (told apart by a marker pixel in the top-left corner) for its mirror, where keypoint
    ``j`` is the original's keypoint ``flip_indices[j]`` at column ``W - 1 - x``.

    ``nsrm=True`` returns the NSRM backbone's ``(limb stages, keypoint stages)`` pair.
    """

    def __init__(self, codec: MSRAHeatmap, keypoints: np.ndarray, flip_indices, nsrm=False,
                 limb_maps: int = 7) -> None:
        super().__init__()
        width = codec.input_size[0]
        mirrored = keypoints[:, flip_indices].copy()
        mirrored[..., 0] = (width - 1) - mirrored[..., 0]
        self.register_buffer('plain', self._encode(codec, keypoints))
        self.register_buffer('mirrored', self._encode(codec, mirrored))
        self.nsrm = nsrm
        self.limb_maps = limb_maps

    @staticmethod
    def _encode(codec: MSRAHeatmap, keypoints: np.ndarray) -> Tensor:
        return torch.from_numpy(np.stack([codec.encode(k)['heatmaps'] for k in keypoints]))

    def forward(self, x: Tensor):
        is_plain = (x[:, 0, 0, 0] > 0.5)[:, None, None, None]
        maps = torch.where(is_plain, self.plain, self.mirrored)
        if not self.nsrm:
            return [maps * 0.5, maps]  # two stages; the head predicts from the last
        limbs = maps.new_zeros(maps.shape[0], self.limb_maps, *maps.shape[-2:])
        return [limbs] * 3, [maps * 0.5, maps]


def marked_inputs(batch: int, width: int, height: int) -> Tensor:
    inputs = torch.zeros(batch, 3, height, width)
    inputs[:, 0, 0, 0] = 1.0  # the mirror has it in the top-right corner
    return inputs


def estimator(head: str, codec_cfg: dict, backbone: nn.Module, flip_indices, flip_test: bool):
    if head == 'cpm':
        head_cfg = dict(type='MultiStageHeatmapHead', decoder=codec_cfg)
    else:
        head_cfg = dict(type='NSRMHead', mask_type='lpm', grouping='G1&6', decoder=codec_cfg)
    return MODELS.build(dict(type='TopdownPoseEstimator', backbone=backbone, head=head_cfg,
                             test_cfg=dict(flip_test=flip_test,
                                           flip_indices=list(flip_indices)))).eval()


# (input w, h), heatmap (w, h), sigma: stride 4 (non-square) and stride 8
CASES = {
    'stride4': ((48, 64), (12, 16), 2.0),
    'stride8': ((128, 128), (16, 16), 1.0),
}


@pytest.mark.parametrize('head', ['cpm', 'nsrm'])
@pytest.mark.parametrize('case', sorted(CASES))
def test_flip_test_decodes_perfect_gaussians_exactly(head: str, case: str) -> None:
    input_size, heatmap_size, sigma = CASES[case]
    codec_cfg = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size,
                     sigma=sigma)
    codec = MSRAHeatmap(input_size, heatmap_size, sigma=sigma)
    flip_indices = PAIRS if head == 'cpm' else HAND21.flip_indices
    num_keypoints, batch = len(flip_indices), 3
    rng = np.random.default_rng(7)
    stride = input_size[0] / heatmap_size[0]
    # random sub-pixel centres, at least 1.5 cells inside the grid
    low, high = 1.5 * stride, np.array(input_size) - 1 - 1.5 * stride
    keypoints = rng.uniform(low, high, (batch, num_keypoints, 2)).astype(np.float32)
    metas = [dict(input_to_image=INPUT_TO_IMAGE) for _ in range(batch)]
    expected = keypoints + INPUT_TO_IMAGE[:, 2]
    inputs = marked_inputs(batch, *input_size)
    for flip_test in (False, True):
        model = estimator(head, codec_cfg,
                          PerfectMaps(codec, keypoints, flip_indices, nsrm=head == 'nsrm'),
                          flip_indices, flip_test)
        with torch.no_grad():
            results = model.predict(inputs, dict(meta=metas))
        predicted = np.stack([r['pred_keypoints'] for r in results])
        error = np.abs(predicted - expected).max()
        assert error < 0.05, f'flip_test={flip_test}: off by {error:.3f} px'
        # a Gaussian sampled off its centre peaks below 1, never below exp(-1/4) here
        assert (np.stack([r['pred_scores'] for r in results]) > 0.75).all()


def test_flip_test_heatmaps_peak_where_the_keypoints_are() -> None:
    """``output_heatmaps`` with flip test: the mirrored maps are moved back by the codec's
    sub-cell shift, so the averaged map's arg-max stays on the keypoint's cell (a plain mirror
    drifts by 7/8 of a cell at stride 8 and moves it)."""
    codec = MSRAHeatmap((128, 128), (16, 16), sigma=1.0)
    flip_indices = PAIRS
    # keypoints a quarter cell left of a cell centre: the unshifted mirror (7/8 of a cell
    # further left) pulls the averaged peak into the next cell
    keypoints = np.array([[[8 * c - 2.0, 8 * c + 1.0] for c in range(4, 9)]], np.float32)
    model = estimator('cpm', dict(type='MSRAHeatmap', input_size=(128, 128),
                                  heatmap_size=(16, 16), sigma=1.0),
                      PerfectMaps(codec, keypoints, flip_indices), flip_indices, True)
    model.test_cfg['output_heatmaps'] = True
    with torch.no_grad():
        result = model.predict(marked_inputs(1, 128, 128),
                               dict(meta=[dict(input_to_image=INPUT_TO_IMAGE)]))[0]
    maps = result['pred_heatmaps']
    cells = np.stack(np.unravel_index(maps.reshape(5, -1).argmax(1), (16, 16)), 1)[:, ::-1]
    np.testing.assert_array_equal(cells, np.round(keypoints[0] / 8).astype(int))
    # the unshifted average does move it
    plain = torch.from_numpy(codec.encode(keypoints[0])['heatmaps'])[None]
    mirrored_kps = keypoints[:, flip_indices].copy()
    mirrored_kps[..., 0] = 127 - mirrored_kps[..., 0]
    mirrored = torch.from_numpy(codec.encode(mirrored_kps[0])['heatmaps'])[None]
    unshifted = 0.5 * (plain + flip_heatmaps(mirrored, flip_indices))
    assert (unshifted[0].flatten(1).argmax(1) % 16).tolist() != cells[:, 0].tolist()


def test_flip_keypoints_maps_mirrored_pixels_back() -> None:
    keypoints = torch.tensor([[[0.0, 1.0], [10.25, 2.0], [63.0, 3.0]]])
    mirrored = flip_keypoints(keypoints, [0, 2, 1], input_width=64)
    torch.testing.assert_close(mirrored, torch.tensor([[[63.0, 1.0], [0.0, 3.0],
                                                        [52.75, 2.0]]]))
    torch.testing.assert_close(flip_keypoints(mirrored, [0, 2, 1], 64), keypoints)
    with pytest.raises(ValueError, match='flip_indices'):
        flip_keypoints(keypoints, [0, 1], 64)


@pytest.mark.parametrize('config', ['configs/sia_gcn/sia-gcn_light_synth-hands-128.py',
                                    'configs/rmgmn/rmgmn_light_synth-hands-128_one-stage.py'])
def test_flip_test_runs_through_the_structure_heads(config: str) -> None:
    """SIA-GCN and R-MGMN (marginals) predict with flip test: the mirrored pass goes through
    their heads, so the prediction of a mirrored crop is the mirror of the crop's."""
    from poseforge.utils.config import load_config
    from conftest import ROOT

    cfg = load_config(str(ROOT / config))
    cfg.model.test_cfg = dict(flip_test=True, flip_indices=HAND21.flip_indices)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    inputs = torch.rand(2, 3, 128, 128) * 255
    metas = [dict(input_to_image=np.eye(2, 3)) for _ in range(2)]
    with torch.no_grad():
        plain = model.predict(inputs, dict(meta=metas))
        mirrored = model.predict(inputs.flip(-1), dict(meta=metas))
    for a, b in zip(plain, mirrored):
        assert np.isfinite(a['pred_keypoints']).all()
        back = flip_keypoints(torch.from_numpy(b['pred_keypoints'])[None],
                              HAND21.flip_indices, 128)[0].numpy()
        decoded = a['pred_scores'] > 0  # else both passes gave the codec's "no peak" marker
        assert decoded.sum() >= 10
        np.testing.assert_allclose(a['pred_keypoints'][decoded], back[decoded], atol=1e-3)


class PerfectMaps3D(PerfectMaps):
    """:class:`PerfectMaps` with a ``trunk`` submodule (the 3D estimator's feature input)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.trunk = nn.Identity()

    def forward(self, x: Tensor):
        stages = super().forward(x)
        self.trunk(stages[-1])
        return stages


@pytest.mark.parametrize('case', sorted(CASES))
def test_3d_estimator_flip_test_decodes_perfect_gaussians_exactly(case: str) -> None:
    """The 3D estimator's 2D keypoints use the same exact flip test (coordinates averaged),
    and the mirrored pass's relative depths come back in the plain pass's keypoint order."""
    input_size, heatmap_size, sigma = CASES[case]
    codec_cfg = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size,
                     sigma=sigma)
    codec = MSRAHeatmap(input_size, heatmap_size, sigma=sigma)
    flip_indices = HAND21.flip_indices
    rng = np.random.default_rng(11)
    stride = input_size[0] / heatmap_size[0]
    low, high = 1.5 * stride, np.array(input_size) - 1 - 1.5 * stride
    keypoints = rng.uniform(low, high, (2, 21, 2)).astype(np.float32)
    inputs = marked_inputs(2, *input_size)
    expected = keypoints + INPUT_TO_IMAGE[:, 2]
    for flip_test in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='Topdown3DPoseEstimator', backbone=PerfectMaps3D(codec, keypoints, flip_indices),
            head=dict(type='MultiStageHeatmapHead', decoder=codec_cfg),
            depth_head=dict(type='RelativeDepthHead', in_channels=21, num_keypoints=21,
                            heatmap_size=heatmap_size, stage_channels=8,
                            fc_channels=(16,)),
            depth_from_stage=-1,
            test_cfg=dict(flip_test=flip_test, flip_indices=list(flip_indices),
                          granted='none'))).eval()
        with torch.no_grad():
            out = model.predict_keypoints_and_depth(inputs)
            plain_depth = model.forward_pose(inputs)[1]
            mirrored_depth = model.forward_pose(inputs.flip(-1))[1]
        predicted = out['keypoints'].numpy() + INPUT_TO_IMAGE[:, 2]
        error = np.abs(predicted - expected).max()
        assert error < 0.05, f'flip_test={flip_test}: off by {error:.3f} px'
        want = (0.5 * (plain_depth + mirrored_depth[:, flip_indices]) if flip_test
                else plain_depth)
        torch.testing.assert_close(out['depth'], want)
