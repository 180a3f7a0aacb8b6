"""Body + hand amalgamation (COCO + OneHand10K): the ``coco17+hand21`` union layout, the mixed
training set (``UnionKeypointDataset``) on the real fixtures, the configs in configs/protect/,
a training step on a mixed batch, and train -> export -> eval through the tools."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from conftest import ROOT, as_cli
from forked_tool import run_tool

from poseforge.datasets import CocoDataset, OneHand10KDataset, UnionKeypointDataset
from poseforge.datasets.collate import pose_collate
from poseforge.datasets.union import part_mapping
from poseforge.distillers.amalgamation import TaskPCKAccuracy
from poseforge.distillers.teacher import teacher_checkpoints_optional
from poseforge.engine.checkpoint import atomic_torch_save, safe_load
from poseforge.registry import DATASETS, MODELS, TRANSFORMS
from poseforge.skeletons import COCO17, HAND21, get_skeleton, skeleton_parts
from poseforge.utils.config import ConfigError, load_config

PROTECT = ROOT / 'configs' / 'protect'
AMALGAMATION = PROTECT / 'amalgamation_body+hand_coco+onehand10k-256x256.py'
AMALGAMATION_CFL = PROTECT / 'amalgamation-cfl_body+hand_coco+onehand10k-256x256.py'
BODY_TEACHER = PROTECT / 'teacher-body_mbv2-w1.0_coco-256x256.py'
HAND_TEACHER = PROTECT / 'teacher-hand_mbv2-w1.0_onehand10k-256x256.py'
BODY, HAND = list(range(17)), list(range(17, 38))
#: tiny widths for the tests (the configs' crop, 256x256, is kept)
TINY = dict(widen_factor=0.35, head_channels=16)


def fixture_data_options(fixtures_dir) -> dict:
    """``--cfg-options`` pointing the amalgamation's union sets at the real fixtures."""
    opts = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        sources = f'{loader}.dataset.datasets'
        opts.update({f'{sources}.0.data_root': str(fixtures_dir / 'coco'),
                     f'{sources}.0.ann_file': 'test_coco.json',
                     f'{sources}.0.data_prefix.img': '',
                     f'{sources}.1.data_root': str(fixtures_dir / 'onehand10k'),
                     f'{sources}.1.ann_file': 'test_onehand10k.json',
                     f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                     f'{loader}.batch_size': 8})
    return opts


@pytest.fixture(scope='module')
def config(fixtures_dir):
    return load_config(str(AMALGAMATION), fixture_data_options(fixtures_dir))


def build_dataset(cfg, **overrides):
    init_default_scope('poseforge')
    return DATASETS.build(dict(copy.deepcopy(cfg.to_dict()), **overrides))


def by_source_id(dataset) -> dict:
    return {info['id']: info for info in (dataset.get_data_info(i) for i in range(len(dataset)))}


# --------------------------------------------------------------------------- the union layout
def test_union_layout_prefixes_names_and_shifts_limbs_and_flip_pairs():
    union = get_skeleton('coco17+hand21')
    assert union.num_keypoints == 38 and skeleton_parts('coco17+hand21') == dict(body=BODY,
                                                                                 hand=HAND)
    assert union.keypoint_names[:17] == tuple(f'body_{n}' for n in COCO17.keypoint_names)
    assert union.keypoint_names[17:] == tuple(f'hand_{n}' for n in HAND21.keypoint_names)
    # a flip swaps the body's left and right joints and leaves every hand joint in place
    assert union.flip_indices[:17] == COCO17.flip_indices
    assert union.flip_indices[17:] == HAND
    assert union.flip_indices[5] == 6 and union.flip_indices[9] == 10  # shoulders, wrists
    assert union.limbs[:len(COCO17.limbs)] == COCO17.limbs
    assert union.limbs[len(COCO17.limbs):] == tuple((a + 17, b + 17) for a, b in HAND21.limbs)
    assert union.sigmas is None  # the hand has no OKS sigmas


# --------------------------------------------------------------------------- the mixed set
def test_mixed_set_holds_both_fixtures_in_the_union_layout(config, fixtures_dir):
    union = build_dataset(config.val_dataloader.dataset, pipeline=[])
    coco = by_source_id(CocoDataset(ann_file='test_coco.json', test_mode=True,
                                    data_root=str(fixtures_dir / 'coco')))
    hands = by_source_id(OneHand10KDataset(ann_file='test_onehand10k.json', test_mode=True,
                                           data_root=str(fixtures_dir / 'onehand10k')))
    assert union.metainfo['flip_indices'] == get_skeleton('coco17+hand21').flip_indices
    assert union.metainfo['parts'] == dict(body=[0, 17], hand=[17, 38])
    infos = [union.get_data_info(i) for i in range(len(union))]
    assert len(infos) == len(coco) + len(hands) == 12 + 4
    assert len({i['id'] for i in infos}) == len(infos)  # ids stay unique across sources
    for info in infos:
        own, other = (BODY, HAND) if info['source'] == 0 else (HAND, BODY)
        original = (coco if info['source'] == 0 else hands)[info['source_id']]
        assert info['img_path'] == original['img_path']
        np.testing.assert_array_equal(info['bbox'], original['bbox'])
        np.testing.assert_array_equal(info['keypoints'][own], original['keypoints'])
        np.testing.assert_array_equal(info['keypoints_visible'][own],
                                      original['keypoints_visible'])
        assert not info['keypoints_visible'][other].any()
        assert not info['keypoints'][other].any()
    # the fixture hand whose wrist is unlabelled: union keypoint 17 (hand_wrist) is absent
    unlabelled = [i for i in infos if i['source'] == 1 and not i['keypoints_visible'][17]]
    assert len(unlabelled) == 1 and unlabelled[0]['keypoints_visible'][18:].all()


def test_flip_on_the_mixed_set_swaps_body_sides_and_keeps_hand_joints(config):
    union = build_dataset(config.val_dataloader.dataset, pipeline=[])
    load, flip = TRANSFORMS.build(dict(type='LoadImage')), TRANSFORMS.build(
        dict(type='RandomFlip', prob=1.0))

    def flipped(index):
        before = load(union.get_data_info(index))
        after = flip(copy.deepcopy(before))
        mirror = before['keypoints'].copy()
        mirror[:, 0] = before['img_shape'][1] - 1 - mirror[:, 0]
        return before, after, mirror

    # a person: left and right body joints trade places (the nose stays), the absent hand too
    before, after, mirror = flipped(0)
    assert before['source'] == 0 and before['keypoints_visible'][[0, 5, 6]].all()
    for new, old in ((0, 0), (5, 6), (6, 5), (9, 10), (15, 16)):
        if before['keypoints_visible'][old]:
            np.testing.assert_allclose(after['keypoints'][new], mirror[old], atol=1e-4)
        assert after['keypoints_visible'][new] == before['keypoints_visible'][old]
    assert not after['keypoints_visible'][HAND].any()
    # a hand: every hand joint keeps its index (a mirrored right hand is a left hand)
    before, after, mirror = flipped(len(union) - 1)
    assert before['source'] == 1
    np.testing.assert_allclose(after['keypoints'][HAND], mirror[HAND], atol=1e-4)
    np.testing.assert_array_equal(after['keypoints_visible'], before['keypoints_visible'])
    assert not after['keypoints_visible'][BODY].any()


def test_per_task_pck_on_the_mixed_set_scores_each_part_on_its_own_crops(config):
    union = build_dataset(config.val_dataloader.dataset, pipeline=[])
    samples = []
    for i in range(len(union)):
        info = union.get_data_info(i)
        pred = info['keypoints'].copy()
        pred[BODY] += 1000.0  # every body prediction wrong, every hand prediction right
        samples.append(dict(keypoints=info['keypoints'], bbox=info['bbox'],
                            keypoints_visible=info['keypoints_visible'], pred_keypoints=pred))
    metric = TaskPCKAccuracy(tasks=skeleton_parts('coco17+hand21'))
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    assert out['PCK@0.2/body'] == 0.0 and out['PCK@0.2/hand'] == 1.0


def test_union_sources_are_checked(fixtures_dir):
    mpii = dict(type='MpiiDataset', data_root=str(fixtures_dir / 'mpii'),
                ann_file='test_mpii.json', data_prefix=dict(img=''))
    with pytest.raises(ConfigError,
                       match=r"source 0 \(MpiiDataset\).*no part of skeleton 'mpii16'"):
        UnionKeypointDataset(datasets=[mpii])
    hands = dict(type='OneHand10KDataset', data_root=str(fixtures_dir / 'onehand10k'),
                 ann_file='test_onehand10k.json')
    with pytest.raises(ConfigError, match='has 21 keypoints but its mapping lists 17'):
        UnionKeypointDataset(datasets=[hands], mappings=[BODY])
    palm_rooted = ['palm'] + list(HAND21.keypoint_names[1:])  # an STB hand with root='palm'
    with pytest.raises(ConfigError, match="not part 'hand'"):
        part_mapping('coco17+hand21', 'hand21', palm_rooted)
    with pytest.raises(ConfigError, match='detections'):
        UnionKeypointDataset(datasets=[dict(type='CocoDataset', bbox_file='dets.json')])
    # an explicit mapping: the hand into union keypoints 17.. reversed (a wrong remapping on
    # purpose: the test above would catch it, this one shows mappings are applied as given)
    union = UnionKeypointDataset(datasets=[hands], mappings=[HAND[::-1]], serialize_data=False)
    plain = OneHand10KDataset(ann_file='test_onehand10k.json',
                              data_root=str(fixtures_dir / 'onehand10k'))
    np.testing.assert_array_equal(union.get_data_info(0)['keypoints'][HAND[::-1]],
                                  plain.get_data_info(0)['keypoints'])


# --------------------------------------------------------------------------- configs
def test_configs_build_the_distiller_on_the_union_with_both_real_teachers():
    init_default_scope('poseforge')
    for path, common in ((AMALGAMATION, False), (AMALGAMATION_CFL, True)):
        cfg = load_config(str(path))
        with teacher_checkpoints_optional():
            model = MODELS.build(cfg.model)
        assert model.num_keypoints == 38 and (model.common is not None) == common
        assert model.tasks['body']['keypoints'] == BODY
        assert model.tasks['body']['outputs'] == BODY
        assert model.tasks['hand']['keypoints'] == HAND
        assert model.tasks['hand']['outputs'] == list(range(21))
        assert model.teacher_body.backbone.final_layer.out_channels == 17
        assert model.teacher_hand.backbone.final_layer.out_channels == 21
        assert model.task_heads['hand'].out_channels == 21
        for name in ('body', 'hand'):  # every teacher is trained on the student's crop
            teacher_cfg = load_config(cfg.model.teachers[0 if name == 'body' else 1].model)
            assert teacher_cfg.model.head.decoder == cfg.model.student.head.decoder
            assert (teacher_cfg.train_dataloader.dataset.pipeline
                    == cfg.train_dataloader.dataset.pipeline)
    # the default teacher checkpoints are local paths; a missing one is named
    with pytest.raises(FileNotFoundError, match='teacher-body_mbv2-w1.0_coco-256x256/epoch_150'):
        MODELS.build(load_config(str(AMALGAMATION)).model)


# --------------------------------------------------------------------------- training
def tiny_teacher(config_path, path, seed: int) -> dict:
    """The teacher config's model at tiny width, with random weights saved to ``path``."""
    model_cfg = load_config(str(config_path)).model.to_dict()
    model_cfg['backbone'].update(TINY)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    with torch.no_grad():  # a visible, input-dependent output (the init is std 0.001)
        model.backbone.final_layer.weight.normal_(std=0.3)
    atomic_torch_save({'state_dict': model.state_dict()}, path)
    return model_cfg


@pytest.fixture(scope='module')
def tiny_teachers(tmp_path_factory):
    init_default_scope('poseforge')
    tmp = tmp_path_factory.mktemp('body_hand')
    body = tiny_teacher(BODY_TEACHER, tmp / 'body.pth', 1)
    hand = tiny_teacher(HAND_TEACHER, tmp / 'hand.pth', 2)
    return [dict(model=body, checkpoint=str(tmp / 'body.pth')),
            dict(model=hand, checkpoint=str(tmp / 'hand.pth'))]


def tiny_model(cfg, teachers) -> dict:
    model = copy.deepcopy(cfg.model.to_dict())
    model['student']['backbone'].update(TINY)
    for spec, teacher in zip(model['teachers'], teachers):
        spec.update(teacher)
    return model


def test_training_step_on_a_mixed_batch_teaches_each_head_its_teachers_maps(config,
                                                                            tiny_teachers):
    init_default_scope('poseforge')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model(config, tiny_teachers))
    dataset = build_dataset(config.train_dataloader.dataset)
    sources = [dataset.get_data_info(i)['source'] for i in range(len(dataset))]
    assert sources.count(0) == 12 and sources.count(1) == 5 * 4  # each hand listed 5 times
    picks = [sources.index(0), sources.index(1), len(sources) - 1]  # person, hand, hand
    data = model.data_preprocessor(pose_collate([dataset[i] for i in picks]), training=True)
    inputs = data['inputs']
    assert inputs.shape == (3, 3, 256, 256)
    model.train()
    losses = model(inputs, None, mode='loss')  # no labels
    with torch.no_grad():
        with model.recorder.recording():
            model.student(inputs, mode='tensor')
            feature = model.recorder[model.student_feature]
        heads = model.head_outputs(feature)
        body = model.teacher_body.head.predict(model.teacher_body(inputs, mode='tensor'))
        hand = model.teacher_hand.head.predict(model.teacher_hand(inputs, mode='tensor'))
    assert body.shape[1] == 17 and hand.shape[1] == 21
    assert float(losses['kd_body']) == pytest.approx(float(((heads['body'] - body) ** 2).mean()),
                                                     rel=1e-4)
    assert float(losses['kd_hand']) == pytest.approx(float(((heads['hand'] - hand) ** 2).mean()),
                                                     rel=1e-4)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert model.task_heads['body'].weight.grad.abs().sum() > 0
    assert model.task_heads['hand'].weight.grad.abs().sum() > 0
    assert next(model.student.backbone.parameters()).grad.abs().sum() > 0
    assert all(p.grad is None for t in (model.teacher_body, model.teacher_hand)
               for p in t.parameters())
    # the shipped student predicts the body head's maps on 0-16, the hand head's on 17-37
    state, student_cfg = model.export_student()
    plain = MODELS.build(student_cfg)
    plain.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        with model.recorder.recording():
            model.student(inputs, mode='tensor')
            heads = model.head_outputs(model.recorder[model.student_feature])
        maps = plain.eval()(inputs, mode='tensor')
    assert maps.shape[1] == 38
    assert torch.allclose(maps[:, BODY], heads['body'], atol=1e-5)
    assert torch.allclose(maps[:, HAND], heads['hand'], atol=1e-5)


def test_amalgamation_trains_exports_and_evaluates_per_task(fixtures_dir, tiny_teachers,
                                                            tmp_path):
    config = tmp_path / 'amalgamation_body+hand_tiny.py'
    base = load_config(str(AMALGAMATION))
    model = tiny_model(base, tiny_teachers)
    config.write_text(f"""_base_ = [{str(AMALGAMATION)!r}]
model = dict(student=dict(backbone={TINY!r}), teachers={model['teachers']!r})
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
custom_hooks = []
""")
    options = as_cli(fixture_data_options(fixtures_dir))  # 16 instances: 2 iterations of 8
    work = tmp_path / 'work'
    result = run_tool('train', str(config), '--work-dir', str(work), *options)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'student.pth'
    result = run_tool('export_student', str(config), str(work / 'epoch_1.pth'), '--out', str(out),
                      *options)
    assert result.returncode == 0, result.stderr[-3000:]
    state = safe_load(out)['state_dict']
    assert not any(k.startswith(('task_heads', 'teacher_')) for k in state)
    assert state['backbone.final_layer.weight'].shape[0] == 38
    metrics_file = tmp_path / 'metrics.json'
    result = run_tool('eval', str(out.with_suffix('.py')), str(out), '--work-dir',
                      str(tmp_path / 'eval'), '--out', str(metrics_file), *options)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(metrics_file.read_text())
    assert {'PCK@0.2', 'PCK@0.2/body', 'PCK@0.2/hand', 'PCK@0.2/body/0', 'PCK@0.2/hand/37',
            'EPE'} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in ('PCK@0.2/body', 'PCK@0.2/hand'))
