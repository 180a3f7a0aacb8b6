"""Config keys checked up front: every shipped config passes, misspellings are named with the
closest valid keys, and ``**kwargs`` classes are followed only as far as their source shows."""
from __future__ import annotations

import pytest

from conftest import QUICKSTART_CONFIG, ROOT

from poseforge.utils.config import ConfigError, load_config
from poseforge.utils.config_keys import accepted_keywords

CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)


@pytest.mark.parametrize('config', CONFIGS)
def test_every_shipped_config_passes_the_check(config):
    load_config(str(ROOT / config))  # raises ConfigError / UnknownTypeError on a problem


@pytest.mark.parametrize('option, key, suggestion', [
    ('trian_cfg.max_epochs', 'trian_cfg', 'train_cfg'),
    ('train_cfg.max_epoch', 'train_cfg.max_epoch', 'max_epochs'),
    ('train_dataloader.batch_szie', 'train_dataloader.batch_szie', 'batch_size'),
    ('optim_wrapper.optimizer.lrr', 'optim_wrapper.optimizer.lrr', "'lr'"),
    ('train_dataloader.dataset.data_roots', 'train_dataloader.dataset.data_roots', 'data_root'),
    ('param_scheduler.0.gama', 'param_scheduler[0].gama', 'gamma'),
    ('train_dataloader.dataset.pipeline.2.probb', 'train_dataloader.dataset.pipeline[2].probb',
     "'prob'"),
    ('default_hooks.checkpoint.intervall', 'default_hooks.checkpoint.intervall', "'interval'"),
    ('randomness.sed', 'randomness.sed', "'seed'"),
])
def test_a_misspelt_key_is_named_with_the_closest_valid_ones(option, key, suggestion):
    with pytest.raises(ConfigError) as info:
        load_config(QUICKSTART_CONFIG, {option: 1})
    message = str(info.value)
    assert '\n' not in message and f"'{key}'" in message and suggestion in message


def test_helper_variables_in_a_config_file_are_not_flagged(tmp_path):
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = [{QUICKSTART_CONFIG!r}]\nmy_crop = 128\nbackbone_depth = 3\n"
                      "val_cfgs = dict()\n")
    with pytest.raises(ConfigError, match="unknown key 'val_cfgs'.*'val_cfg'") as info:
        load_config(str(config))  # a near-miss of a runner key is a typo; the others pass
    assert 'my_crop' not in str(info.value) and 'backbone_depth' not in str(info.value)
    with pytest.raises(ConfigError, match="unknown key 'my_option'"):
        load_config(QUICKSTART_CONFIG, {'my_option': 1})  # a new top-level key from options


class _Base:
    def __init__(self, depth: int = 1, width: int = 2) -> None:
        pass


class _Forwards(_Base):
    def __init__(self, channels: int = 3, **kwargs) -> None:
        scale = kwargs.pop('scale', 1.0)
        super().__init__(**kwargs)
        self.scale = scale


class _Keeps:
    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs  # used who knows where: anything goes


def test_kwargs_are_followed_to_the_parent_only_when_forwarded():
    assert accepted_keywords(_Forwards) == {'channels', 'scale', 'depth', 'width'}
    assert accepted_keywords(_Keeps) is None
    assert accepted_keywords(lambda a, b=1: None) == {'a', 'b'}
