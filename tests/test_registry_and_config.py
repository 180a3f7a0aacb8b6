"""Registries resolve poseforge types from configs; unknown names fail with suggestions."""
from __future__ import annotations

import pytest
from mmengine.registry import MODELS as MM_MODELS
from mmengine.registry import init_default_scope

import poseforge  # noqa: F401
from poseforge.registry import DATASETS, METRICS, MODELS, TRANSFORMS, UnknownTypeError
from poseforge.skeletons import COCO17, HAND21, MPII16, get_skeleton
from poseforge.utils.config import ConfigError, check_types, load_config


def test_registries_are_mmengine_children_in_poseforge_scope():
    assert MODELS.parent is MM_MODELS and MODELS.scope == 'poseforge'
    init_default_scope('poseforge')
    # mmengine's root registry finds poseforge's classes through the default scope.
    loss = MM_MODELS.build(dict(type='KeypointMSELoss'))
    assert type(loss).__module__.startswith('poseforge.')


@pytest.mark.parametrize('registry,typo,expected', [
    (MODELS, 'CPMM', 'CPM'),
    (DATASETS, 'SynthHandDatset', 'SynthHandDataset'),
    (TRANSFORMS, 'TopDownAffine', 'TopdownAffine'),
    (METRICS, 'PCKAcuracy', 'PCKAccuracy'),
])
def test_unknown_type_lists_close_names(registry, typo, expected):
    with pytest.raises(UnknownTypeError) as info:
        registry.build(dict(type=typo))
    message = str(info.value)
    assert f"'{typo}'" in message and expected in message


def test_config_check_names_the_key_path_and_suggests():
    cfg = dict(model=dict(type='TopdownPoseEstimator', backbone=dict(type='CMP')))
    with pytest.raises(UnknownTypeError, match=r"'CMP' at 'model.backbone'.*CPM"):
        check_types(cfg, source='my_config.py')


def test_config_check_accepts_albumentations_and_mmengine_types():
    check_types(dict(
        pipeline=[dict(type='PhotometricAug', transforms=[dict(type='RandomBrightnessContrast')])],
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='Adam')),
        param_scheduler=[dict(type='MultiStepLR')],
        hooks=[dict(type='CheckpointHook')]))


def test_missing_config_file_is_named(tmp_path):
    missing = tmp_path / 'nope.py'
    with pytest.raises(ConfigError, match='nope.py'):
        load_config(str(missing))


def test_config_inherits_base_and_merges_options(tmp_path):
    base = tmp_path / 'base.py'
    base.write_text("model = dict(type='CPM', arch='light', num_keypoints=21)\nlr = 1e-3\n")
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base.py']\nmodel = dict(num_stages=2)\n")
    cfg = load_config(str(child), {'lr': 5e-4})
    assert cfg.model == dict(type='CPM', arch='light', num_keypoints=21, num_stages=2)
    assert cfg.lr == 5e-4 and cfg.default_scope == 'poseforge'


def test_skeletons_are_consistent():
    assert HAND21.num_keypoints == 21 and len(HAND21.limbs) == 20
    # Canonical hand order: each finger's four joints run root -> tip after the wrist.
    assert HAND21.keypoint_names[1:5] == ('thumb1', 'thumb2', 'thumb3', 'thumb4')
    assert HAND21.flip_indices == list(range(21))
    for skel in (COCO17, MPII16):
        flip = skel.flip_indices
        assert sorted(flip) == list(range(skel.num_keypoints))
        assert [flip[i] for i in flip] == list(range(skel.num_keypoints))  # an involution
        for a, b in skel.flip_pairs:
            name_a, name_b = skel.keypoint_names[a], skel.keypoint_names[b]
            assert {name_a.split('_')[0], name_b.split('_')[0]} == {'left', 'right'}
            assert name_a.split('_', 1)[1] == name_b.split('_', 1)[1]
    assert len(COCO17.sigmas) == 17
    with pytest.raises(KeyError, match='hand21'):
        get_skeleton('hand22')


def test_train_tool_flags_reach_the_config(tmp_path, capsys):
    import train as train_tool
    from conftest import QUICKSTART_CONFIG
    args = train_tool.parse_args([QUICKSTART_CONFIG, '--work-dir', str(tmp_path), '--amp',
                                  '--compile', '--resume', '--cfg-options',
                                  'train_cfg.max_epochs=3'])
    cfg = train_tool.build_cfg(args)
    assert cfg.optim_wrapper.type == 'BF16AutocastOptimWrapper'
    assert cfg.compile is True and cfg.train_cfg.max_epochs == 3
    assert cfg.work_dir == str(tmp_path) and cfg.launcher == 'none'
    # --resume with an empty work dir: said plainly, and a fresh run.
    assert cfg.resume is False and cfg.load_from is None
    assert 'nothing to resume' in capsys.readouterr().err
    # --resume with a last checkpoint: that file.
    import torch
    ckpt = tmp_path / 'epoch_2.pth'
    torch.save({'state_dict': {}}, ckpt)
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    cfg = train_tool.build_cfg(args)
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    explicit = train_tool.build_cfg(train_tool.parse_args(
        [QUICKSTART_CONFIG, '--resume', str(ckpt)]))
    assert explicit.resume is True and explicit.load_from == str(ckpt)
    assert explicit.work_dir == 'work_dirs/cpm-light_synth-hands-128'
