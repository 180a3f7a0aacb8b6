"""tools/benchmark.py: its JSON, and the side-by-side mode's translation to mmpose and plumbing.

mmpose itself is not installed here; the plumbing (job over stdin, result back, metric values
cross-checked) is run against a stand-in ``mmpose`` package whose functions are poseforge's, so
what these tests show is the harness, not mmpose's speed. The measured ratios live in
docs/benchmarks.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import _conv_ceiling as ceiling
import _gpu_peaks as peaks
import _mmpose_side as side
import _standard_benchmarks as standard
import benchmark
from poseforge.datasets.transforms import RandomBBoxTransform
from poseforge.registry import MODELS
from poseforge.utils.config import ConfigError, load_config

from conftest import FIXTURES as SHARED_FIXTURES
from conftest import ROOT

FIXTURES = SHARED_FIXTURES / 'onehand10k'
HAND_PIPELINE = str(ROOT / 'configs' / 'benchmarks' / 'hand_pipeline.py')
#: the benchmark config's data_root is relative to a checkout beside shared/; point it at the
#: fixtures wherever they were found
ONEHAND_ROOT = f'train_dataloader.dataset.data_root={FIXTURES}'


def _hand_dataset_cfg(steps: dict | None = None, **options):
    """The benchmark config's training dataset with ``options`` merged in and ``steps`` set on
    the pipeline steps of their type (unchecked, so a test can name types no registry knows)."""
    cfg = load_config(HAND_PIPELINE)
    cfg.merge_from_dict({f'train_dataloader.dataset.{k}': v for k, v in options.items()})
    benchmark.set_step_options(cfg, steps)
    return cfg.train_dataloader.dataset


NO_PHOTOMETRIC = {'PhotometricAug.transforms': []}


# --------------------------------------------------------------------------- translation
def test_hand_pipeline_maps_step_by_step_to_mmpose():
    dataset = side.mmpose_dataset(_hand_dataset_cfg(NO_PHOTOMETRIC))
    assert dataset['type'] == 'OneHand10KDataset' and dataset['data_mode'] == 'topdown'
    assert Path(dataset['data_root']).is_absolute()
    assert [s['type'] for s in dataset['pipeline']] == [
        'LoadImage', 'GetBBoxCenterScale', 'RandomFlip', 'RandomBBoxTransform', 'TopdownAffine',
        'GenerateTarget', 'PackPoseInputs']  # the empty photometric step is left out
    bbox = dataset['pipeline'][3]
    ours = RandomBBoxTransform(rotate_factor=180.0, scale_factor=(0.7, 1.3))
    assert bbox['rotate_factor'] == 180.0 and bbox['scale_factor'] == [0.7, 1.3]
    # arguments the config leaves to defaults are spelled out from poseforge's transform
    assert (bbox['shift_factor'], bbox['shift_prob'], bbox['rotate_prob']) == (
        ours.shift_factor, ours.shift_prob, ours.rotate_prob)
    assert dataset['pipeline'][4]['input_size'] == [256, 256]
    encoder = dataset['pipeline'][5]['encoder']
    assert encoder == dict(type='MSRAHeatmap', input_size=[256, 256], heatmap_size=[64, 64],
                           sigma=2.0, blur_kernel_size=11)
    json.dumps(dataset)  # the job crosses a process boundary as JSON


def test_photometric_maps_only_to_its_mmpose_counterpart():
    mapped = side.mmpose_dataset(_hand_dataset_cfg(
        {'PhotometricAug.transforms': 'photometric_distortion'}))
    assert mapped['pipeline'][5] == dict(type='PhotometricDistortion')
    with pytest.raises(ConfigError, match='no mmpose counterpart'):
        side.mmpose_dataset(_hand_dataset_cfg())  # poseforge's default recipe: no equivalent
    # ... unless pixels do not matter (a batch for the training-step benchmark)
    lenient = side.mmpose_dataset(_hand_dataset_cfg(), pixels_matter=False)
    assert 'PhotometricDistortion' not in [s['type'] for s in lenient['pipeline']]


@pytest.mark.parametrize('options, steps, message', [
    ({'type': 'SynthHandDataset'}, {}, "dataset 'SynthHandDataset' has no mmpose counterpart"),
    ({'ann_file': 'Train/label_joint.txt'}, {}, 'is not one'),
    ({}, {'GenerateTarget.encoder.type': 'LimbMaskCodec'}, "codec 'LimbMaskCodec'"),
    ({}, {'GetBBoxCenterScale.type': 'MyCrop'}, "step 'MyCrop' has no mmpose counterpart"),
])
def test_untranslatable_work_is_refused_by_name(options, steps, message):
    with pytest.raises(ConfigError, match=message):
        side.mmpose_dataset(_hand_dataset_cfg({**NO_PHOTOMETRIC, **steps}, **options))


def test_steps_and_codec_are_addressed_by_type_not_position():
    args = benchmark.parse_args(['pipeline', HAND_PIPELINE, '--codec-options',
                                 'input_size=(368,368)', 'heatmap_size=(46,46)', 'sigma=1.0',
                                 '--step-options', 'PhotometricAug.transforms=[]'])
    cfg = benchmark.load_benchmark_config(args)
    steps = {s['type']: s for s in cfg.train_dataloader.dataset.pipeline}
    assert tuple(steps['TopdownAffine']['input_size']) == (368, 368)
    encoder = steps['GenerateTarget']['encoder']
    assert (tuple(encoder['input_size']), tuple(encoder['heatmap_size']), encoder['sigma']) == (
        (368, 368), (46, 46), 1.0)
    assert cfg.codec == encoder and steps['PhotometricAug']['transforms'] == []
    # the same options reach the same steps wherever a config puts them
    cfg = load_config(HAND_PIPELINE)
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline.insert(0, pipeline.pop(5))  # move PhotometricAug first
    benchmark.set_step_options(cfg, NO_PHOTOMETRIC)
    assert pipeline[0]['type'] == 'PhotometricAug' and pipeline[0]['transforms'] == []
    with pytest.raises(ConfigError, match=r"no pipeline step of type 'Photometric'.*TopdownAffine"):
        benchmark.set_step_options(cfg, {'Photometric.transforms': []})
    with pytest.raises(ConfigError, match='TYPE.KEY=VALUE'):
        benchmark.set_step_options(cfg, {'PhotometricAug': []})


def test_train_job_uses_mmposes_cpm_with_the_same_targets():
    job = side.train_job(_hand_dataset_cfg(), 21, 8, 3, 2, False)
    assert job['model']['backbone'] == dict(type='CPM', in_channels=3, out_channels=21,
                                            feat_channels=128, num_stages=6)
    assert job['model']['head']['decoder']['heatmap_size'] == [64, 64]
    assert job['batch_size'] == 8 and job['channels_last'] is False


def test_models_map_to_mmposes_of_the_same_family_or_are_refused_by_name():
    codec = dict(type='MSRAHeatmap', input_size=[256, 256], heatmap_size=[64, 64], sigma=2.0)
    hourglass = side.mmpose_model(dict(backbone=dict(type='StackedHourglass', num_stacks=2)),
                                  16, codec)
    assert hourglass['backbone'] == dict(type='HourglassNet', num_stacks=2)
    assert (hourglass['head']['type'], hourglass['head']['num_stages'],
            hourglass['head']['out_channels']) == ('CPMHead', 2, 16)
    assert side.mmpose_model(dict(backbone=dict(type='CPM', arch='light')), 21,
                             codec)['backbone']['type'] == 'CPM'
    with pytest.raises(ConfigError, match="backbone 'NSRMBackbone' has no mmpose counterpart"):
        side.mmpose_model(dict(backbone=dict(type='NSRMBackbone')), 21, codec)
    job = side.train_job(_hand_dataset_cfg(), 21, 1, 4, 1, False, mode='infer',
                         model_cfg=dict(backbone=dict(type='StackedHourglass', num_stacks=4)))
    assert job['mode'] == 'infer' and job['model']['backbone']['num_stacks'] == 4
    assert job['model']['head']['decoder']['heatmap_size'] == [64, 64]


def test_standard_rows_parse_and_their_configs_load():
    for key, label, spec in standard.standard_rows('/nonexistent/synth'):
        args = benchmark.parse_args(spec)
        if args.config:
            args.config = str(ROOT / args.config)
            cfg = benchmark.load_benchmark_config(args)
            steps = {s['type']: s for s in cfg.train_dataloader.dataset.pipeline}
            if '368x368' in label:  # crop and targets both at the 368 codec
                assert tuple(steps['TopdownAffine']['input_size']) == (368, 368), label
                assert tuple(steps['GenerateTarget']['encoder']['heatmap_size']) == (46, 46)
            if 'no photometric' in label and 'PhotometricAug' in steps:
                assert steps['PhotometricAug']['transforms'] == [], label
            if key.startswith('pipeline'):  # every compared data path translates to mmpose
                assert side.mmpose_dataset(cfg.train_dataloader.dataset)['pipeline'], label
            if key.startswith(('train', 'infer')):  # every compared network has mmpose's twin
                codec = cfg.model.head.decoder
                assert side.mmpose_model(cfg.model, 16, codec)['backbone']['type'], label


def test_standard_run_keeps_going_past_a_failed_row_and_resumes(tmp_path, monkeypatch):
    """A long quiet-machine run loses nothing: each row is saved as it is measured, a failing
    row is recorded and the rest still run, and --resume re-runs only what is missing."""
    monkeypatch.setattr(standard, 'make_synth_data', lambda out: out)
    rows = [('metrics', 'metrics row', ['metrics', '--num', '2000', '--threads', '1']),
            ('', 'broken row', ['train', 'configs/no_such_config.py'])]
    monkeypatch.setattr(standard, 'standard_rows', lambda synth: rows)
    out = tmp_path / 'bench.md'
    with pytest.raises(RuntimeError, match='1 row\\(s\\) failed: broken row'):
        standard.run_standard(str(out))
    table = out.read_text()
    assert '| metrics row |' in table and '| broken row | failed |' in table
    saved = [json.loads(line) for line in out.with_suffix('.rows.jsonl').read_text().splitlines()]
    assert [('error' in r, r['label']) for r in saved] == [(False, 'metrics row'),
                                                           (True, 'broken row')]
    rows[1] = ('', 'broken row', ['metrics', '--num', '1000', '--threads', '1'])  # fixed
    calls = []
    real_run = standard.subprocess.run
    monkeypatch.setattr(standard.subprocess, 'run',
                        lambda cmd, **kw: calls.append(cmd) or real_run(cmd, **kw))
    result = standard.run_standard(str(out), resume=True)
    assert [r['label'] for r in result] == ['metrics row', 'broken row']
    assert len(calls) == 1 and calls[0][-4:] == ['--num', '1000', '--threads', '1']
    assert result[0]['seconds'] == saved[0]['seconds']  # reused, not re-measured


# --------------------------------------------------------------------------- results
def test_side_by_side_ratio_and_value_check():
    assert benchmark.side_by_side_ratio('pipeline', {'samples_per_s': 900},
                                        {'samples_per_s': 300}) == 3.0
    assert benchmark.side_by_side_ratio('train', {'gflops_per_s': 400, 'samples_per_s': 1},
                                        {'gflops_per_s': 100, 'samples_per_s': 9}) == 4.0
    assert benchmark.side_by_side_ratio('infer', {'gflops_per_s': 300, 'samples_per_s': 1},
                                        {'gflops_per_s': 200, 'samples_per_s': 9}) == 1.5
    assert benchmark.side_by_side_ratio('metrics', {'seconds': 0.1}, {'seconds': 2.0}) == 20.0
    values = dict(pck=0.95, auc=0.64, epe=10.0)
    assert benchmark.metric_values_match(values, dict(values, epe=10.0000001))
    assert not benchmark.metric_values_match(values, dict(values, auc=0.65))


@pytest.mark.parametrize('name, tflops', [
    ('NVIDIA H100 80GB HBM3', 989.0), ('NVIDIA H100 PCIe', 756.0), ('NVIDIA H100 NVL', 835.0),
    ('NVIDIA H200', 989.0), ('NVIDIA A100-SXM4-80GB', 312.0), ('NVIDIA L40S', 362.0),
    ('NVIDIA L40', 181.0), ('NVIDIA L4', 121.0), ('NVIDIA GeForce RTX 4090', 165.0),
    ('Tesla V100-SXM2-16GB', None), ('NVIDIA GeForce RTX 3060', None)])
def test_gpu_bf16_peaks_by_device_name(name, tflops):
    assert peaks.bf16_peak_tflops(name) == tflops


def test_mfu_is_achieved_over_the_devices_bf16_peak(monkeypatch):
    assert peaks.mfu(395_600.0, 989.0) == pytest.approx(0.4)
    result = dict(gflops_per_s=123_450.0)
    monkeypatch.setattr('torch.cuda.get_device_name', lambda device=None: 'NVIDIA H100 PCIe')
    assert peaks.utilisation_fields(result, 'cuda') == dict(
        gpu='NVIDIA H100 PCIe', peak_tflops=756.0, mfu=round(123_450 / 756_000, 4))
    assert peaks.utilisation_fields(result, 'cuda:0', peak_tflops=500.0)['mfu'] == 0.2469
    monkeypatch.setattr('torch.cuda.get_device_name', lambda device=None: 'Mystery GPU')
    unknown = peaks.utilisation_fields(result, 'cuda')
    assert 'mfu' not in unknown and '--peak-tflops' in unknown['mfu_note']
    assert peaks.utilisation_fields(result, 'cpu') == {}  # a CPU: only with --peak-tflops
    assert peaks.utilisation_fields(dict(samples_per_s=3.0), 'cuda') == {}
    with pytest.raises(ValueError, match='positive'):
        peaks.mfu(1.0, 0.0)


def test_markdown_table_names_where_the_mmpose_figure_comes_from():
    measured = dict(label='data path', key='pipeline-256', mode='pipeline', samples_per_s=900.0,
                    seconds=1.0, mmpose=dict(samples_per_s=300.0), vs_mmpose=3.0)
    anchored = dict(label='data path', key='pipeline-256', mode='pipeline', samples_per_s=830.0,
                    seconds=1.0)
    plain = dict(label='generation', key='', mode='generate', samples_per_s=30.0, seconds=1.0)
    table = standard.markdown_table([measured, anchored, plain])
    assert '| 300.0 samples/s (same run) | 3.00x |' in table[2]
    assert '| 415 samples/s (anchor) | 2.00x |' in table[3]
    assert table[4].endswith('|  |  |')


# --------------------------------------------------------------------------- plumbing
FAKE_MMPOSE = {
    '__init__.py': "__version__ = '0.0-standin'\n",
    'registry.py': textwrap.dedent('''\
        import json, os

        class _Dataset:
            def __init__(self, cfg):
                self.cfg = cfg
            def __len__(self):
                return 3
            def __getitem__(self, i):
                return dict(index=i)

        class _Datasets:
            def build(self, cfg):
                with open(os.environ['STANDIN_LOG'], 'w') as f:
                    json.dump(dict(cfg=cfg, cwd=os.getcwd()), f)
                return _Dataset(cfg)

        DATASETS = _Datasets()
        '''),
    'evaluation/__init__.py': '',
    'evaluation/functional.py': ('from poseforge.evaluation.functional import (  # noqa\n'
                                 '    keypoint_auc, keypoint_epe, keypoint_pck_accuracy)\n'),
}


@pytest.fixture
def standin_env(tmp_path):
    for name, text in FAKE_MMPOSE.items():
        path = tmp_path / 'standin' / 'mmpose' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'standin'),
               STANDIN_LOG=str(tmp_path / 'standin.json'))
    env.pop('POSEFORGE_MMPOSE_PYTHON', None)
    return env


def _benchmark(env, *args):
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'benchmark.py'), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc


def test_metrics_side_by_side_runs_both_and_cross_checks_values(standin_env):
    proc = _benchmark(standin_env, 'metrics', '--num', '2000', '--vs-mmpose', '--rounds', '1')
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['mmpose']['mmpose'] == '0.0-standin'
    assert result['values_match'] is True
    assert result['values'] == pytest.approx(result['mmpose']['values'])
    assert result['vs_mmpose'] > 0


def test_pipeline_side_by_side_sends_the_translated_dataset(standin_env, tmp_path):
    proc = _benchmark(standin_env, 'pipeline', HAND_PIPELINE, '--iters', '5', '--rounds', '1',
                      '--vs-mmpose', '--cfg-options', ONEHAND_ROOT,
                      '--step-options', 'PhotometricAug.transforms=photometric_distortion')
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['samples_per_s'] > 0 and result['mmpose']['samples'] == 5
    seen = json.loads((tmp_path / 'standin.json').read_text())
    assert seen['cfg']['data_root'] == str(FIXTURES.resolve())
    assert seen['cfg']['pipeline'][5] == dict(type='PhotometricDistortion')
    # run from an empty directory, so mmpose's relative metainfo paths cannot hit poseforge's
    # own configs/ folder
    assert not Path(seen['cwd']).exists() and Path(seen['cwd']).name.startswith('mmpose_ref')


def test_no_mmpose_is_a_clear_error(tmp_path):
    env = dict(os.environ)
    env.pop('POSEFORGE_MMPOSE_PYTHON', None)
    proc = _benchmark(env, 'metrics', '--num', '100', '--vs-mmpose')
    assert proc.returncode == 2
    assert '--mmpose-python' in proc.stderr and 'Traceback' not in proc.stderr


def test_pipeline_json_without_mmpose():
    proc = _benchmark(dict(os.environ), 'pipeline', HAND_PIPELINE, '--iters', '8',
                      '--cfg-options', ONEHAND_ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['mode'] == 'pipeline' and result['samples'] == 8 and result['samples_per_s'] > 0
    assert 'mmpose' not in result


def test_train_step_benchmark_compiled_counts_the_eager_flops(tiny_synth):
    """--compile times the torch.compile'd model; its FLOPs are those of the eager model."""
    common = ['train', str(ROOT / 'configs' / 'quickstart' / 'cpm-light_synth-hands-128.py'),
              '--iters', '2', '--batch-size', '2', '--cfg-options',
              f'train_dataloader.dataset.data_root={tiny_synth}']
    eager, compiled = (_benchmark(dict(os.environ), *common, *extra)
                       for extra in ([], ['--compile']))
    assert eager.returncode == 0 and compiled.returncode == 0, eager.stderr + compiled.stderr
    eager, compiled = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (eager, compiled))
    assert (eager['compile'], compiled['compile']) == (False, True)
    assert compiled['gflop_per_sample'] == eager['gflop_per_sample'] > 0
    assert compiled['gflops_per_s'] > 0 and compiled['samples_per_s'] > 0
    assert 'mfu' not in eager  # a CPU has no table peak


def test_infer_benchmark_reports_mfu_against_a_given_peak(tiny_synth):
    result = benchmark.main([
        'infer', str(ROOT / 'configs' / 'quickstart' / 'cpm-light_synth-hands-128.py'),
        '--iters', '1', '--batch-size', '1', '--peak-tflops', '0.5',
        '--cfg-options', f'train_dataloader.dataset.data_root={tiny_synth}'])
    assert result['peak_tflops'] == 0.5
    assert result['mfu'] == pytest.approx(result['gflops_per_s'] / 500, abs=1e-4)


class _ConvStack(torch.nn.Module):
    """A stem, one layer applied twice, a strided 1x1 conv and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.body = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.down = torch.nn.Conv2d(8, 4, 1, stride=2, bias=False)
        self.head = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = self.body(self.body(self.stem(x)))
        return self.head(self.down(x).flatten(1))


def _toy_step(model, x, amp=False):
    def step():
        with torch.autocast('cpu', torch.bfloat16, enabled=amp):
            out = model(x)
        out.float().sum().backward()
    return step


@pytest.mark.parametrize('channels_last, amp', [(False, False), (True, True)])
def test_ceiling_records_each_distinct_convolution_with_what_it_was_fed(channels_last, amp):
    model = _ConvStack()
    x = torch.randn(2, 3, 8, 8)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(
            memory_format=torch.channels_last)
    calls = ceiling.record_conv_calls(model, _toy_step(model, x, amp))
    by_layer = {(c.in_channels, c.out_channels, c.stride): (c, n) for c, n in calls.items()}
    assert len(calls) == 3 and sum(calls.values()) == 4
    stem, n_stem = by_layer[(3, 8, (1, 1))]
    body, n_body = by_layer[(8, 8, (1, 1))]
    down, _ = by_layer[(8, 4, (2, 2))]
    assert (n_stem, n_body) == (1, 2)  # the shared layer is timed once, counted twice
    assert not stem.needs_input_grad and body.needs_input_grad  # the image needs no gradient
    assert stem.input_shape == (2, 3, 8, 8) and down.kernel_size == (1, 1) and not down.bias
    assert all(c.channels_last == channels_last and c.autocast_bf16 == amp for c in calls)
    for handle_owner in model.modules():  # the hooks are gone afterwards
        assert not handle_owner._forward_hooks


def test_ceiling_is_the_steps_flops_over_its_convolutions_alone():
    model = _ConvStack()
    x = torch.randn(2, 3, 8, 8)
    step = _toy_step(model, x)
    calls = ceiling.record_conv_calls(model, step)
    step_flops = benchmark._count_flops(step)
    conv_flops = sum(ceiling.time_conv_call(c, repeats=1)[1] * n for c, n in calls.items())
    result = ceiling.conv_ceiling(calls, step_flops, repeats=1)
    linear_flops = 3 * 2 * 2 * 64 * 5  # forward, input and weight gradients of the head
    assert step_flops == conv_flops + linear_flops
    assert result['conv_share'] == round(conv_flops / step_flops, 3) < 1
    assert result['conv_layers'] == 4 and result['distinct_conv_layers'] == 3
    assert result['conv_gflops_per_s'] == pytest.approx(
        conv_flops / result['conv_seconds'] / 1e9, rel=1e-3, abs=0.006)  # rounded to 0.01
    with pytest.raises(ValueError, match='no nn.Conv2d'):
        ceiling.conv_ceiling(ceiling.record_conv_calls(model.head, lambda: None), 1)


def test_ceiling_mode_counts_the_same_step_as_train(tiny_synth):
    """`ceiling` bounds the `train` row of the same config: same step, same FLOPs, every
    convolution of the network counted."""
    common = [str(ROOT / 'configs' / 'quickstart' / 'cpm-light_synth-hands-128.py'),
              '--batch-size', '2', '--cfg-options',
              f'train_dataloader.dataset.data_root={tiny_synth}']
    train = benchmark.main(['train', *common, '--iters', '1'])
    result = benchmark.main(['ceiling', *common, '--amp'])
    cfg = benchmark.load_benchmark_config(benchmark.parse_args(['train', *common]))
    model_convs = sum(isinstance(m, torch.nn.Conv2d) for m in MODELS.build(cfg.model).modules())
    assert result['mode'] == 'ceiling' and result['amp'] is True
    assert result['gflop_per_sample'] == train['gflop_per_sample'] > 0
    assert result['conv_layers'] == model_convs
    assert result['seconds'] > 0 and result['conv_share'] == 1.0  # FLOPs: convolutions only
    assert result['gflops_per_s'] == pytest.approx(  # the ceiling: the step's FLOPs over the
        result['gflop_per_sample'] * 2 / result['seconds'], rel=1e-2)  # convolutions' time
