"""Every config has one codec, used everywhere: the model decodes with the codec its pipelines
encode with and crop for; and each distinct codec is written down in one config file only."""
from __future__ import annotations

import ast
import json

from mmengine.config import Config

from conftest import ROOT

import dump_configs  # tools/dump_configs.py (conftest puts tools/ on the path)

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def plain(value):
    """Tuples -> lists, so that a codec written either way compares equal."""
    return json.loads(json.dumps(value))


def test_every_config_decodes_with_the_codec_its_pipelines_encode_with():
    paths = dump_configs.leaf_configs(ROOT)
    assert len(paths) >= 30
    checked_decoders = 0
    for path in paths:
        name = str(path.relative_to(ROOT))
        cfg = Config.fromfile(str(path)).to_dict()
        codec = cfg.get('codec')
        if codec is None and 'input_size' in (cfg.get('model') or {}):
            # a crop classifier (PalmClassifier) encodes no targets: its crop size is the model's
            codec = dict(input_size=cfg['model']['input_size'])
        assert isinstance(codec, dict) and 'input_size' in codec, f'{name}: no `codec`'
        codec = plain(codec)
        head = (cfg.get('model') or {}).get('head')
        if head is not None:
            assert plain(head.get('decoder')) == codec, f'{name}: model.head.decoder'
            checked_decoders += 1
        if (cfg.get('model') or {}).get('codec') is not None:  # detectors: the box codec
            assert plain(cfg['model']['codec']) == codec, f'{name}: model.codec'
            checked_decoders += 1
        steps = 0
        for loader in LOADERS:
            dataset = (cfg.get(loader) or {}).get('dataset', {})
            while 'pipeline' not in dataset and 'dataset' in dataset:  # wrappers (ClipDataset)
                dataset = dataset['dataset']
            for i, step in enumerate(dataset.get('pipeline') or []):
                where = f'{name}: {loader}.dataset.pipeline[{i}] ({step["type"]})'
                if step['type'] == 'GenerateTarget':
                    assert plain(step['encoder']) == codec, where
                    steps += 1
                elif step['type'] == 'GenerateBoxTargets':
                    assert plain(step['codec']) == codec, where
                    steps += 1
                elif step['type'] in ('TopdownAffine', 'DetAffine'):
                    assert plain(step['input_size']) == codec['input_size'], where
                    steps += 1
        assert steps >= 2, f'{name}: no crop / target step found'
    assert checked_decoders >= 29  # all but the data-path benchmark config have a model


def codec_declarations() -> dict[str, list[str]]:
    """Each ``codec = dict(...)`` literal in configs/ -> the files that write it."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / 'configs').rglob('*.py')):
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == 'codec'):
                key = json.dumps(_literal_dict(node.value), sort_keys=True)
                found.setdefault(key, []).append(str(path.relative_to(ROOT)))
    return found


def _literal_dict(node: ast.expr) -> dict:
    """``dict(a=1, b=(2, 3))`` -> its value (configs write codecs as dict calls of literals)."""
    assert isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'dict', \
        ast.unparse(node)
    return plain({kw.arg: ast.literal_eval(kw.value) for kw in node.keywords})


def test_each_codec_is_declared_in_one_file():
    declared = codec_declarations()
    assert len(declared) >= 5  # 368, 128, COCO, MPII, 256, the benchmark's
    repeated = {codec: files for codec, files in declared.items() if len(files) > 1}
    assert not repeated, f'the same codec is written in several configs: {repeated}'
