"""The standard benchmark set (``tools/benchmark.py standard``, ``make bench``): the rows the
README's speed table reports, mmpose's anchor figures, and the markdown table.

Each row is a ``tools/benchmark.py`` command line, run in a fresh process (thread settings do
not leak between rows). A row with a key is compared with mmpose: against
:data:`MMPOSE_REFERENCE` when it has that key, or side by side with ``--vs-mmpose``. Rows vary a
config by naming the pipeline step or the codec they change (``--step-options``,
``--codec-options``), never by list position.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from poseforge.utils.fileio import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / 'tools' / 'benchmark.py'


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if 'model name' in line)
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__}'


#: mmpose 1.3.2 on this kind of machine (2 cores, torch 2.13 CPU), from the speed issue: the
#: anchors a plain ``standard`` run takes its ratios against. ``standard --vs-mmpose`` measures
#: mmpose in the same run instead.
MMPOSE_REFERENCE = {
    'pipeline-256': ('samples/s', 415.0),
    'pipeline-368': ('samples/s', 351.0),
    'train-cpm': ('GFLOP/s', 180.0),
    'metrics': ('s', 2.2),
}
_PIPE_368 = ['--codec-options', 'input_size=(368,368)', 'heatmap_size=(46,46)', 'sigma=1.0']
#: mmpose's measured hand pipeline has no photometric step (its per-step breakdown in the speed
#: issue lists none), so the rows compared with those anchors leave poseforge's out too.
_NO_PHOTOMETRIC = ['--step-options', 'PhotometricAug.transforms=[]']
#: mmpose's PhotometricDistortion recipe, which --vs-mmpose maps to mmpose's own transform.
_MMPOSE_PHOTOMETRIC = ['--step-options', 'PhotometricAug.transforms=photometric_distortion']
HAND_PIPELINE = 'configs/benchmarks/hand_pipeline.py'


def _pipeline_row(key: str, label: str, *flags: str, config: str = HAND_PIPELINE,
                  iters: int = 1000) -> tuple[str, str, list[str]]:
    return key, label, ['pipeline', config, '--threads', '1', '--iters', str(iters),
                        '--rounds', '5', *flags]


#: the fixture json's file names are relative to the fixture folder itself
_NO_IMG_PREFIX = 'train_dataloader.dataset.data_prefix.img='


def _fixture(name: str, ann_file: str, *extra: str) -> list[str]:
    return ['--cfg-options', f'train_dataloader.dataset.data_root=../shared/fixtures/{name}',
            f'train_dataloader.dataset.ann_file={ann_file}', *extra]


def standard_rows(synth_root: str) -> list[tuple[str, str, list[str]]]:
    """(key, label, arguments) of each row of the README's table. A row with a key is compared
    with mmpose: against ``MMPOSE_REFERENCE`` when it has that key, side by side with
    ``--vs-mmpose``."""
    synth = ['--cfg-options', f'train_dataloader.dataset.data_root={synth_root}']
    onehand = _fixture('onehand10k', 'test_onehand10k.json')
    cpm = ['configs/cpm/cpm_vgg19_onehand10k-368.py', '--threads', '2', '--iters', '2',
           '--batch-size', '8', '--channels-last']
    mpii = _fixture('mpii', 'test_mpii.json', _NO_IMG_PREFIX)
    hourglass = 'configs/hourglass/hourglass2_mpii-256.py'
    okdhp = 'configs/okdhp/okdhp_hg2_mpii-256.py'
    hg_train = ['--threads', '2', '--iters', '2', '--batch-size', '4']
    hg_infer = ['--threads', '2', '--iters', '5', '--batch-size', '1']
    return [
        _pipeline_row('pipeline-256', 'data path 256x256 -> 64x64, no photometric, 1 thread',
                      *_NO_PHOTOMETRIC),
        _pipeline_row('pipeline-368', 'data path 368x368 -> 46x46, no photometric, 1 thread',
                      *_PIPE_368, *_NO_PHOTOMETRIC),
        _pipeline_row('pipeline-256-photometric', 'data path 256x256 -> 64x64 + mmpose\'s '
                      'PhotometricDistortion recipe, 1 thread', *_MMPOSE_PHOTOMETRIC),
        _pipeline_row('pipeline-368-photometric', 'data path 368x368 -> 46x46 + mmpose\'s '
                      'PhotometricDistortion recipe, 1 thread', *_PIPE_368, *_MMPOSE_PHOTOMETRIC),
        _pipeline_row('pipeline-coco', 'data path COCO images, 192x256 -> 24x32 (COCO CPM '
                      'config: no photometric), 1 thread',
                      *_fixture('coco', 'test_coco.json', _NO_IMG_PREFIX),
                      config='configs/cpm/cpm_vgg19_coco-256x192.py', iters=500),
        _pipeline_row('pipeline-rhd', 'data path RHD images (PNG), 368x368 -> 46x46, no '
                      'photometric, 1 thread',
                      *_fixture('rhd', 'test_rhd.json'), *_NO_PHOTOMETRIC,
                      config='configs/cpm/cpm_vgg19_rhd-368.py', iters=500),
        _pipeline_row('', 'data path 256x256 -> 64x64 + poseforge\'s default photometric, '
                      '1 thread'),
        _pipeline_row('', 'data path 368x368 -> 46x46 + poseforge\'s default photometric, '
                      '1 thread', *_PIPE_368),
        ('train-cpm', 'train step CPM-VGG19 368, batch 8, 2 threads, fp32, channels_last '
         '(mmpose: its CPM, fp32, NCHW as it runs)',
         ['train', *cpm, *onehand]),
        ('train-cpm-cl', 'train step CPM-VGG19 368, batch 8, 2 threads, fp32, channels_last '
         '(mmpose: its CPM made channels_last too)',
         ['train', *cpm, '--mmpose-channels-last', *onehand]),
        ('train-cpm', 'train step CPM-VGG19 368, batch 8, 2 threads, --amp (bf16), channels_last '
         '(mmpose: fp32, its only CPU precision)',
         ['train', *cpm, '--amp', *onehand]),
        # the most the two rows above can reach here: every convolution of the same step timed
        # alone (tools/_conv_ceiling.py); the ratio is the most that step's ratio could be
        ('train-cpm', 'convolution ceiling of that CPM-VGG19 step (each convolution alone, '
         'fwd + bwd), fp32, channels_last (mmpose: its CPM step, fp32, NCHW)',
         ['ceiling', *cpm, *onehand]),
        ('train-cpm', 'convolution ceiling of that CPM-VGG19 step, --amp (bf16), channels_last '
         '(mmpose: its CPM step, fp32, NCHW)',
         ['ceiling', *cpm, '--amp', *onehand]),
        ('', 'train step light CPM 128 (quick start), batch 32, 2 threads, fp32',
         ['train', 'configs/quickstart/cpm-light_synth-hands-128.py', '--threads', '2',
          '--iters', '10', '--batch-size', '32', *synth]),
        ('', 'train step light CPM 128 (quick start), batch 32, 2 threads, --amp (bf16)',
         ['train', 'configs/quickstart/cpm-light_synth-hands-128.py', '--threads', '2',
          '--iters', '10', '--batch-size', '32', '--amp', *synth]),
        # the hourglass and OKDHP configs run channels_last (configs/_base_/models/hourglass.py's
        # data_preprocessor) without a flag
        ('train-hourglass', 'train step stacked hourglass, 2 stacks, 256x256, batch 4, 2 threads, '
         'fp32, channels_last (mmpose: its HourglassNet, 2 stacks, fp32, NCHW as it runs)',
         ['train', hourglass, *hg_train, *mpii]),
        ('train-hourglass-cl', 'train step stacked hourglass, 2 stacks, 256x256, batch 4, '
         '2 threads, fp32, channels_last (mmpose: its HourglassNet made channels_last too)',
         ['train', hourglass, *hg_train, '--mmpose-channels-last', *mpii]),
        ('train-hourglass', 'train step stacked hourglass, 2 stacks, 256x256, batch 4, 2 threads, '
         '--amp (bf16), channels_last (mmpose: fp32, its only CPU precision, NCHW)',
         ['train', hourglass, *hg_train, '--amp', *mpii]),
        ('train-hourglass', 'convolution ceiling of that hourglass step (each convolution alone, '
         'fwd + bwd), fp32, channels_last (mmpose: its HourglassNet step, fp32, NCHW)',
         ['ceiling', hourglass, *hg_train, *mpii]),
        ('train-hourglass', 'convolution ceiling of that hourglass step, --amp (bf16), '
         'channels_last (mmpose: its HourglassNet step, fp32, NCHW)',
         ['ceiling', hourglass, *hg_train, '--amp', *mpii]),
        ('', 'train step OKDHP network, 2-stack hourglass x 3 branches + FAU, 256x256, batch 4, '
         '2 threads, fp32, channels_last', ['train', okdhp, *hg_train, *mpii]),
        ('', 'train step OKDHP network, 2-stack hourglass x 3 branches + FAU, 256x256, batch 4, '
         '2 threads, --amp (bf16), channels_last', ['train', okdhp, *hg_train, '--amp', *mpii]),
        ('', 'train step DGGAN joint stage (pose net + generator + discriminator), light CPM 128, '
         'batch 32, 2 threads, --amp (bf16)',
         ['train', 'configs/dggan/dggan_cpm-light_synth-hands-128_stage4-joint.py', '--threads',
          '2', '--iters', '5', '--batch-size', '32', '--amp', *synth]),
        ('infer-hourglass', 'inference stacked hourglass, 2 stacks, 256x256, batch 1, 2 threads, '
         'channels_last (mmpose: its HourglassNet, 2 stacks, NCHW)',
         ['infer', hourglass, *hg_infer, *mpii]),
        ('', 'inference OKDHP network (every branch + FAU), 256x256, batch 1, 2 threads, '
         'channels_last',
         ['infer', okdhp, *hg_infer, *mpii]),
        ('', 'inference KD student MobileNetV2 x0.5, 64x64, batch 1, 2 threads',
         ['infer', 'configs/students/mobilenetv2-w0.5_synth-hands-64.py', '--threads', '2',
          '--iters', '100', '--batch-size', '1', *synth]),
        ('metrics', 'PCK + AUC + EPE, 100,000 x 21 keypoints, 1 thread',
         ['metrics', '--num', '100000', '--threads', '1']),
        ('', 'generated views 256x256 (RGB + depth + mask), 1 process',
         ['generate', '--num', '30', '--size', '256', '--views', '4']),
    ]


def _anchor_ratio(key: str, result: dict) -> tuple[str, str]:
    """(mmpose figure, ratio) against the speed issue's anchors; empty where there is none."""
    if key not in MMPOSE_REFERENCE:
        return '', ''
    unit, ref = MMPOSE_REFERENCE[key]
    if unit == 's':
        return f'{ref} s (anchor)', f'{ref / result["seconds"]:.1f}x'
    value = result['gflops_per_s'] if unit == 'GFLOP/s' else result['samples_per_s']
    return f'{ref:g} {unit} (anchor)', f'{value / ref:.2f}x'


def _measured_ratio(result: dict) -> tuple[str, str]:
    """(mmpose figure, ratio) from a side-by-side row."""
    theirs = result['mmpose']
    if result['mode'] == 'metrics':
        check = '' if result.get('values_match') else ', VALUES DIFFER'
        return f"{theirs['seconds']} s (same run{check})", f"{result['vs_mmpose']:.1f}x"
    if result['mode'] in ('train', 'ceiling', 'infer'):
        return f"{theirs['gflops_per_s']} GFLOP/s (same run)", f"{result['vs_mmpose']:.2f}x"
    return f"{theirs['samples_per_s']} samples/s (same run)", f"{result['vs_mmpose']:.2f}x"


def markdown_table(rows: list[dict]) -> list[str]:
    lines = ['| benchmark | samples/s | GFLOP/s | seconds | mmpose 1.3.2 | ratio |',
             '|---|---:|---:|---:|---|---:|']
    for r in rows:
        theirs, ratio = _measured_ratio(r) if 'mmpose' in r else _anchor_ratio(r['key'], r)
        lines.append(f"| {r['label']} | {r['samples_per_s']} | {r.get('gflops_per_s', '')} | "
                     f"{r['seconds']} | {theirs} | {ratio} |")
    return lines


def make_synth_data(out: Path) -> Path:
    """The generated hands the synthetic rows read (with depth: the DGGAN row loads it)."""
    subprocess.run([sys.executable, str(ROOT / 'tools' / 'generate_dataset.py'), '--out',
                    str(out), '--num', '40', '--views', '2', '--size', '128'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def _rows_file(out: str | None) -> Path | None:
    """Where a standard run keeps each measured row as it goes (beside the table)."""
    return Path(out).with_suffix('.rows.jsonl') if out else None


def _done_rows(rows_file: Path | None) -> dict[tuple[str, str], dict]:
    """Rows measured by an earlier run of this table, by (label, arguments)."""
    if rows_file is None or not rows_file.is_file():
        return {}
    done = {}
    for line in rows_file.read_text(encoding='utf-8').splitlines():
        row = json.loads(line)
        if 'error' not in row:
            done[(row['label'], row['spec'])] = row
    return done


def run_standard(out: str | None, mmpose_python: str | None = None,
                 resume: bool = False) -> list[dict]:
    """The README's table; each row in a fresh process so thread settings don't leak. With
    ``mmpose_python`` the keyed rows run side by side with mmpose.

    Each row is appended to ``<out>.rows.jsonl`` as soon as it is measured, and a row that
    fails is recorded and skipped, so a long quiet-machine run loses nothing; ``resume`` reuses
    the rows of that file measured with the same arguments and runs only the rest."""
    synth = make_synth_data(Path(tempfile.mkdtemp()) / 'synth')
    rows_file = _rows_file(out)
    done = _done_rows(rows_file) if resume else {}
    if rows_file is not None and not resume:
        rows_file.unlink(missing_ok=True)
    rows, failed = [], []
    for key, label, spec in standard_rows(str(synth)):
        if mmpose_python and key:
            spec = [*spec, '--vs-mmpose', '--mmpose-python', mmpose_python]
        elif '--mmpose-channels-last' in spec:
            continue  # only meaningful side by side
        # the spec without the run's temporary data folder: the same row in another run
        spec_id = ' '.join(str(a).replace(str(synth), 'SYNTH') for a in spec)
        if (label, spec_id) in done:
            rows.append(done[(label, spec_id)])
            continue
        proc = subprocess.run([sys.executable, str(BENCHMARK), *spec], capture_output=True,
                              text=True, cwd=ROOT)
        if proc.returncode != 0:
            result = dict(label=label, key=key, spec=spec_id, error=proc.stderr[-2000:])
            failed.append(result)
            print(f'{label} FAILED:\n{proc.stderr[-2000:]}', file=sys.stderr, flush=True)
        else:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result.update(label=label, key=key, spec=spec_id)
            rows.append(result)
            print(json.dumps(result), flush=True)
        if rows_file is not None:
            with rows_file.open('a', encoding='utf-8') as f:  # append-only log, one row a line
                f.write(json.dumps(result) + '\n')
    if out:
        how = ('mmpose measured in the same run, alternating with poseforge (best round of each)'
               if mmpose_python else "mmpose: the speed issue's anchor figures, not re-measured")
        lines = [f'Measured on: {machine_line()}; {how}', '', *markdown_table(rows)]
        lines += [f"| {r['label']} | failed | | | | |" for r in failed]
        atomic_write_text('\n'.join(lines) + '\n', out)
        print(f'table written to {out}')
    if failed:
        raise RuntimeError(f'{len(failed)} row(s) failed: ' +
                           '; '.join(r['label'] for r in failed))
    return rows
