"""Clips over sequence datasets: order, T / stride at sequence ends, one augmentation per clip,
exact reversal, bad clips; and the temporal smoothness metric on hand-made trajectories."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poseforge.datasets import BaseKeypointDataset, DatasetError, SynthHandDataset, instance
from poseforge.datasets.clips import (ClipDataset, clip_collate, plan_clips,
                                      reverse_clip)
from poseforge.datasets.transforms.presets import topdown_3d_pipelines
from poseforge.evaluation.functional.temporal import acceleration_error, jitter
from poseforge.evaluation.metrics import TemporalSmoothness

CODEC = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
TRAIN, TEST = topdown_3d_pipelines(CODEC, dict(type='RelativeDepth'), rotate_factor=60.0,
                                   scale_factor=(0.7, 1.3))


pytestmark = pytest.mark.usefixtures('poseforge_scope_keeping_global_rngs')


def synth(root, split='train', pipeline=TEST, **kwargs):
    return SynthHandDataset(ann_file=f'annotations/{split}.json', data_root=str(root),
                            pipeline=pipeline, **kwargs)


def test_plan_respects_length_stride_interval_and_sequence_ends():
    clips, bad, short = plan_clips(range(10), clip_length=4, stride=3)
    assert [c[0] for c in clips] == [0, 3, 6] and clips[-1] == [6, 7, 8, 9] and not bad
    clips, _, _ = plan_clips(range(11), 4, 3)          # 0, 3, 6 stop at 9: one more ends at 10
    assert [c[0] for c in clips] == [0, 3, 6, 7] and clips[-1][-1] == 10
    clips, _, _ = plan_clips(range(11), 4, 3, cover_end=False)
    assert [c[0] for c in clips] == [0, 3, 6]
    clips, _, _ = plan_clips(range(10), 3, 4, frame_interval=2)   # spans 5 ids
    assert clips == [[0, 2, 4], [4, 6, 8], [5, 7, 9]]
    assert plan_clips(range(3), 4, 1) == ([], [], True)              # shorter than a clip
    ids = [0, 1, 2, 4, 5, 6, 7]                                       # frame 3 missing
    clips, bad, short = plan_clips(ids, 3, 2)
    # starts 0, 2, 4 (+ 5 to reach 7): the clip at 2 needs the missing frame
    assert [[ids[p] for p in c] for c in clips] == [[0, 1, 2], [4, 5, 6], [5, 6, 7]]
    assert bad == [[3]] and not short


def test_clips_hold_consecutive_frames_of_one_video_in_order(tiny_sequences):
    frames = synth(tiny_sequences, pipeline=TRAIN)
    clips = ClipDataset(frames, clip_length=4, stride=2)
    assert len(clips) == 3 * 3  # three 8-frame sequences: starts 0, 2, 4 (4 + 3 = 7 is last)
    for idx in range(len(clips)):
        infos = [frames.get_data_info(i) for i in clips.frame_indices(idx)]
        assert len({(i['sequence_id'], i['view_id']) for i in infos}) == 1
        ids = [i['frame_id'] for i in infos]
        assert ids == list(range(ids[0], ids[0] + 4))
    clip = clips[1]
    assert clip['inputs'].shape == (4, 3, 32, 32)
    assert clip['data_samples']['heatmaps'].shape == (4, 21, 8, 8)
    metas = clip['data_samples']['meta']
    assert [m['frame_id'] for m in metas] == [2, 3, 4, 5]
    assert [m['clip_frame'] for m in metas] == [0, 1, 2, 3]
    assert [m['clip_report'] for m in metas] == [False, False, True, True]  # 2, 3 in clip 0
    batch = clip_collate([clips[0], clips[1]])
    assert batch['inputs'].shape == (2, 4, 3, 32, 32)
    assert batch['data_samples']['keypoint_depth'].shape == (2, 4, 21)
    assert [len(m) for m in batch['data_samples']['meta']] == [4, 4]


class _StillVideo(BaseKeypointDataset):
    """One image (and box) repeated as every frame of two sequences."""

    def __init__(self, entry: dict, pipeline: list) -> None:
        self._entry = entry
        super().__init__(pipeline=pipeline, serialize_data=False)

    def load_data_list(self) -> list[dict]:
        out = []
        for seq in range(2):
            for frame in range(6):
                out.append(dict(self._entry, sequence_id=seq, frame_id=frame,
                                id=seq * 6 + frame))
        return out


def test_one_augmentation_per_clip_and_boxes_kept(tiny_sequences):
    frames = synth(tiny_sequences)
    entry = {k: v for k, v in frames.get_data_info(0).items()
             if k not in ('sample_idx', 'flip_indices')}
    still = _StillVideo(entry, TRAIN)
    clips = ClipDataset(still, clip_length=3, stride=3, sequence_keys=('sequence_id',))
    clips.set_sample_seed(7, epoch=0)
    loaded = [clips[i] for i in range(len(clips))]
    for clip in loaded:  # identical frames + one draw per clip -> identical crops and targets
        for t in range(1, 3):
            assert torch.equal(clip['inputs'][t], clip['inputs'][0])
            assert torch.equal(clip['data_samples']['heatmaps'][t],
                               clip['data_samples']['heatmaps'][0])
            np.testing.assert_array_equal(clip['data_samples']['meta'][t]['input_to_image'],
                                          clip['data_samples']['meta'][0]['input_to_image'])
        for meta in clip['data_samples']['meta']:
            np.testing.assert_allclose(meta['bbox'], entry['bbox'])
    # ... while different clips draw different augmentations (rotation, flip, colour)
    firsts = [c['inputs'][0] for c in loaded]
    assert any(not torch.equal(firsts[0], f) for f in firsts[1:])
    # a sequence dataset whose frames differ keeps each frame's own box
    moving = ClipDataset(synth(tiny_sequences, pipeline=TRAIN), clip_length=4, stride=4)
    clip = moving[0]
    for meta, idx in zip(clip['data_samples']['meta'], moving.frame_indices(0)):
        np.testing.assert_allclose(meta['bbox'], moving.dataset.get_data_info(idx)['bbox'])


def test_clip_dataloaders_wrap_a_dataset_base_into_clip_loaders(tiny_sequences, tmp_path):
    """The TASSN configs' loaders: a dataset base's per-frame sets, with their pipelines, read
    as overlapping training clips and tiling validation clips; the inherited loader keeps its
    workers and sampler and loses the per-frame dataset's keys."""
    from mmengine.config import Config

    from conftest import ROOT
    from poseforge.registry import DATASETS
    base = ROOT / 'configs' / '_base_' / 'datasets' / 'synth_hands.py'
    config = tmp_path / 'clips.py'
    config.write_text(
        f"_base_ = [{str(base)!r}]\n"
        "from poseforge.datasets.clips import clip_dataloaders\n"
        "train_dataloader, val_dataloader = clip_dataloaders(\n"
        f"    dict(_base_.train_dataloader.dataset, data_root={str(tiny_sequences)!r}),\n"
        f"    dict(_base_.val_dataloader.dataset, data_root={str(tiny_sequences)!r}),\n"
        "    ['TRAIN'], ['TEST'], clip_length=4, train_stride=2, batch_size=3)\n")
    cfg = Config.fromfile(str(config))
    train, val = cfg.train_dataloader, cfg.val_dataloader
    assert (train.batch_size, train.num_workers, train.sampler.shuffle) == (3, 2, True)
    assert train.collate_fn.type == 'poseforge.clip_collate' and not val.sampler.shuffle
    assert set(train.dataset) == {'type', 'clip_length', 'stride', 'dataset'}
    assert (train.dataset.stride, val.dataset.stride) == (2, 4)
    assert train.dataset.dataset.pipeline == ['TRAIN'] and val.dataset.dataset.pipeline == ['TEST']
    assert val.dataset.dataset.test_mode and val.dataset.dataset.ann_file.endswith('test.json')
    train.dataset.dataset.pipeline, val.dataset.dataset.pipeline = TRAIN, TEST
    train_clips, val_clips = (DATASETS.build(loader.dataset) for loader in (train, val))
    assert len(train_clips) == 3 * 3               # three 8-frame videos: starts 0, 2, 4
    assert len(val_clips) == 2 and val_clips.num_reported_frames == len(val_clips.dataset)


def test_reversal_gives_exactly_the_reversed_clip(tiny_sequences):
    frames = synth(tiny_sequences, split='test')
    clips = ClipDataset(frames, clip_length=5, stride=3)
    clip = clips[0]
    backwards = reverse_clip(clip)
    direct = [frames[i] for i in reversed(clips.frame_indices(0))]
    assert torch.equal(backwards['inputs'], torch.stack([d['inputs'] for d in direct]))
    assert [m['frame_id'] for m in backwards['data_samples']['meta']] == [4, 3, 2, 1, 0]
    batch = clip_collate([clips[0], clips[1]])
    rev = reverse_clip(batch)
    assert torch.equal(rev['inputs'][1], clips[1]['inputs'].flip(0))
    assert [m['frame_id'] for m in rev['data_samples']['meta'][1]] == [7, 6, 5, 4, 3]
    assert torch.equal(reverse_clip(rev)['inputs'], batch['inputs'])  # an involution


def test_bad_clips_are_counted_or_refused(tiny_sequences, tmp_path):
    frames = synth(tiny_sequences)
    holed = synth(tiny_sequences, indices=[i for i in range(len(frames))
                                           if frames.get_data_info(i)['frame_id'] != 5])
    clips = ClipDataset(holed, clip_length=4, stride=2)
    # per sequence starts 0, 2, 4: the clips at 2 and 4 need frame 5
    assert clips.skipped_clips == {'missing_frame': 6, 'short_sequence': 0}
    assert len(clips) == 3
    with pytest.raises(DatasetError, match=r'frame ids \[5\] of a clip are missing'):
        ClipDataset(holed, clip_length=4, stride=2, on_bad='error')
    short = ClipDataset(frames, clip_length=8, stride=8)
    assert len(short) == 3
    with pytest.raises(DatasetError, match='no complete clip of 9 frames'):
        ClipDataset(frames, clip_length=9)
    with pytest.raises(DatasetError, match='fewer than one clip of 9'):
        ClipDataset(frames, clip_length=9, on_bad='error')
    entry = frames.get_data_info(0)
    plain = [instance(entry['img_path'], 0, 0, entry['bbox'], entry['keypoints'],
                      entry['keypoints_visible'])]

    class _Plain(BaseKeypointDataset):
        def load_data_list(self):
            return plain
    with pytest.raises(DatasetError, match='no sequence_id / frame_id'):
        ClipDataset(_Plain(pipeline=[]), clip_length=2)


def test_acceleration_error_and_jitter_on_hand_made_trajectories():
    t = np.arange(10, dtype=np.float64)
    gt = np.zeros((10, 2, 3))
    gt[:, 1, 0] = t ** 2                           # joint 1 accelerates: 2 mm/frame^2, no jerk
    pred = gt + 5.0                                # a constant offset: smooth
    np.testing.assert_allclose(acceleration_error(pred, gt), 0.0, atol=1e-12)
    shaky = gt.copy()
    shaky[:, 1, 2] += 3.0 * (-1.0) ** t            # +-3 mm on z for joint 1
    # a = 3 (-1)^t (-1 - 2 - 1) -> |a| = 12 on one of two joints: 6 per frame
    np.testing.assert_allclose(acceleration_error(shaky, gt), 6.0)
    # jerk = 3 (-1)^t (1 + 3 + 3 + 1) -> 24 on one joint: 12; the parabola has none
    np.testing.assert_allclose(jitter(shaky), 12.0)
    np.testing.assert_allclose(jitter(gt), 0.0, atol=1e-12)

    metric = TemporalSmoothness(root_relative=True)
    samples = [dict(pred_keypoints_3d=shaky[f], keypoints_3d=gt[f], sequence_id=0, view_id=0,
                    frame_id=int(f)) for f in range(10) if f != 6]   # frame 6 dropped
    samples += [dict(pred_keypoints_3d=gt[f] + 1.0, keypoints_3d=gt[f], sequence_id=1,
                     view_id=0, frame_id=int(f)) for f in range(4)]  # smooth video
    metric.process({}, samples[::-1])              # any order
    out = metric.compute_metrics(metric.results)
    # video 0 splits into frames 0-5 and 7-9: 4 + 1 accelerations of 6; video 1: 2 of 0
    np.testing.assert_allclose(out['AccelError/root0'], 6.0 * 5 / 7)
    np.testing.assert_allclose(out['Jitter_gt/root0'], 0.0, atol=1e-9)
    np.testing.assert_allclose(out['Jitter/root0'], 12.0 * 3 / 4)  # 3 + 0 jerks, then 1 of 0
    with pytest.raises(KeyError, match="needs 'frame_id'"):
        TemporalSmoothness().process({}, [dict(pred_keypoints_3d=gt[0], sequence_id=0)])
