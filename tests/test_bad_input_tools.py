"""Nothing silent, nothing lost: each bad input to tools/train.py and tools/eval.py stops with
exit status 2 and one line naming the file or key, and what must survive survives.

The tools run in forked children (:mod:`forked_tool`: exit status, stdout and stderr as for a
subprocess, without a new interpreter's start-up per case)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from forked_tool import ToolResult, run_tool

pytestmark = pytest.mark.slow
NSRM_CONFIG = 'configs/nsrm/nsrm_lpm-g1and6_synth-hands-128.py'


def one_error_line(result: ToolResult, *names: str) -> str:
    """Assert exit status 2, no traceback, and exactly one error line naming ``names``."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    lines = result.error_lines
    assert len(lines) == 1, result.stderr[-3000:]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope='module')
def checkpoints(tiny_train_config, tmp_path_factory) -> dict[str, Path]:
    """Untrained but well-formed checkpoints of the tiny CPM and of another model (NSRM),
    plus an empty, a truncated and a not-a-checkpoint file."""
    from conftest import ROOT

    from poseforge.apis import init_model
    root = tmp_path_factory.mktemp('checkpoints')
    paths = {name: root / f'{name}.pth' for name in ('cpm', 'nsrm', 'empty', 'truncated')}
    torch.save({'state_dict': init_model(str(tiny_train_config)).state_dict(), 'meta': {}},
               paths['cpm'])
    torch.save({'state_dict': init_model(str(ROOT / NSRM_CONFIG)).state_dict(), 'meta': {}},
               paths['nsrm'])
    paths['empty'].write_bytes(b'')
    data = paths['cpm'].read_bytes()
    paths['truncated'].write_bytes(data[:len(data) // 3])
    paths['png'] = ROOT / 'docs' / 'compare_pck.png'
    return paths


# --------------------------------------------------------------------------- checkpoints
def test_resume_with_nothing_to_resume_keeps_the_configs_load_from(tiny_train_config,
                                                                   checkpoints, tmp_path):
    """A new run under ``--resume`` starts from the config's ``load_from`` (here another
    model's weights, so the strict load must refuse them) instead of silently from scratch."""
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path), '--resume',
                      '--cfg-options', f"load_from={checkpoints['nsrm']}")
    one_error_line(result, 'nsrm.pth', 'does not fit the model')
    assert "starting from the config's load_from" in result.stderr


def test_eval_refuses_another_models_checkpoint_and_writes_no_metrics(tiny_train_config,
                                                                      checkpoints, tmp_path):
    result = run_tool('eval', str(tiny_train_config), str(checkpoints['nsrm']),
                      '--work-dir', str(tmp_path))
    line = one_error_line(result, 'nsrm.pth', 'does not fit the model')
    assert 'not in the model (e.g. ' in line and 'with another shape (e.g. ' in line
    assert not (tmp_path / 'metrics.json').exists()


def test_resume_refuses_another_models_checkpoint(tiny_train_config, checkpoints, tmp_path):
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                      '--resume', str(checkpoints['nsrm']))
    one_error_line(result, 'nsrm.pth', 'does not fit the model')


def test_load_from_is_strict_and_partial_loading_reports_what_it_skipped(tiny_train_config,
                                                                         checkpoints, tmp_path):
    strict = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path / 'strict'),
                      '--load-from', str(checkpoints['nsrm']))
    one_error_line(strict, 'nsrm.pth', '--partial')
    partial = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path / 'partial'),
                       '--load-from', str(checkpoints['nsrm']), '--partial', '--cfg-options',
                       'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=4',
                       'train_cfg.val_interval=5')
    assert partial.returncode == 0, partial.stderr[-3000:]
    log = partial.stdout + partial.stderr
    assert 'Partial load (load_strict=False): loaded ' in log
    assert 'not loaded: ' in log and 'not in the model (e.g. backbone.' in log
    assert (tmp_path / 'partial' / 'epoch_1.pth').is_file()


def test_webcam_demo_refuses_another_models_checkpoint(tiny_train_config, checkpoints):
    result = run_tool('webcam_demo', str(tiny_train_config), str(checkpoints['nsrm']),
                      '--source', 'no-such-video.mp4', '--no-show')
    one_error_line(result, 'nsrm.pth', 'does not fit the model')


@pytest.mark.parametrize('kind, expected', [('empty', 'empty (0 bytes)'),
                                            ('truncated', 'truncated or corrupt'),
                                            ('png', 'not a PyTorch checkpoint (a PNG image')])
def test_unreadable_checkpoint_is_named_before_any_work(tiny_train_config, checkpoints, tmp_path,
                                                        kind, expected):
    result = run_tool('eval', str(tiny_train_config), str(checkpoints[kind]),
                      '--work-dir', str(tmp_path))
    one_error_line(result, checkpoints[kind].name, expected)
    assert 'weights_only' not in result.stderr
    if kind == 'truncated':
        resume = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                          '--resume', str(checkpoints[kind]))
        one_error_line(resume, checkpoints[kind].name, expected)


# --------------------------------------------------------------------------- config keys
def test_misspelt_config_keys_one_line_each(tiny_train_config, tmp_path):
    nested = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                      '--cfg-options', 'train_cfg.max_epoch=1',
                      'train_dataloader.batch_szie=2', 'optim_wrapper.optimizer.lrr=0.1',
                      'train_dataloader.dataset.data_roots=x')
    assert nested.returncode == 2 and 'Traceback' not in nested.stderr
    lines = nested.error_lines
    assert len(lines) == 4, nested.stderr
    for key, suggestion in (('train_cfg.max_epoch', 'max_epochs'),
                            ('train_dataloader.batch_szie', 'batch_size'),
                            ('optim_wrapper.optimizer.lrr', "'lr'"),
                            ('train_dataloader.dataset.data_roots', 'data_root')):
        assert any(f"'{key}'" in line and suggestion in line for line in lines), key
    top = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                   '--cfg-options', 'trian_cfg.max_epochs=1')
    one_error_line(top, "'trian_cfg'", 'train_cfg')
    no_value = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                        '--cfg-options', 'train_cfg.max_epochs')
    one_error_line(no_value, "'train_cfg.max_epochs'", 'KEY=VALUE')
    assert not list(tmp_path.iterdir())  # stopped before anything was written


# --------------------------------------------------------------------------- work dir
def _stale_pid() -> int:
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def _write_lock(work: Path, pid: int) -> None:
    from poseforge.engine.workdir import LOCK_NAME, WorkDirLock
    info = WorkDirLock._own_info()
    if pid != os.getpid():
        info.update(pid=pid, start=None)
    work.mkdir(parents=True, exist_ok=True)
    (work / LOCK_NAME).write_text(json.dumps(info))


def test_a_second_run_in_a_locked_work_dir_is_refused(tiny_train_config, tmp_path):
    from poseforge.engine.workdir import LOCK_NAME
    _write_lock(tmp_path, os.getpid())  # this process is the run that holds the work dir
    (tmp_path / 'epoch_1.pth').write_bytes(b'the other run\'s checkpoint')
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path))
    one_error_line(result, str(tmp_path), f'pid {os.getpid()}', '--force')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'the other run\'s checkpoint'
    assert json.loads((tmp_path / LOCK_NAME).read_text())['pid'] == os.getpid()


@pytest.mark.parametrize('case', ['stale', 'force'])
def test_stale_or_forced_lock_is_taken_over_and_orphans_removed(tiny_train_config, tmp_path,
                                                                case):
    from poseforge.engine.workdir import LOCK_NAME
    _write_lock(tmp_path, _stale_pid() if case == 'stale' else os.getpid())
    orphan = tmp_path / '.epoch_3.pth.k2j4h5g6.tmp'   # a save killed mid-write
    orphan.write_bytes(b'half a checkpoint')
    (tmp_path / 'epoch_2.pth').write_bytes(b'kept')
    # The run goes on past the lock (and then stops at a missing data root, to stay short);
    # --resume finds no last_checkpoint and says it trains from scratch.
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path), '--resume',
                      *(['--force'] if case == 'force' else []), '--cfg-options',
                      'train_dataloader.dataset.data_root=/no/such/root')
    one_error_line(result, '/no/such/root')
    assert f"--resume: nothing to resume in '{tmp_path}'" in result.stderr
    assert 'training from scratch' in result.stderr
    notice = 'removed a stale lock' if case == 'stale' else '--force: took over the lock'
    assert notice in result.stderr and str(orphan) in result.stderr
    assert not orphan.exists() and (tmp_path / 'epoch_2.pth').read_bytes() == b'kept'
    assert not (tmp_path / LOCK_NAME).exists()  # released at exit


def test_unwritable_work_dir_is_named_before_training(tiny_train_config, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(blocker / 'work'))
    one_error_line(result, str(blocker / 'work'), 'cannot be created')


# --------------------------------------------------------------------------- data
@pytest.fixture
def data_copy(tiny_synth, tmp_path) -> Path:
    root = tmp_path / 'data'
    shutil.copytree(tiny_synth / 'annotations', root / 'annotations')
    shutil.copytree(tiny_synth / 'images', root / 'images')
    return root


def _first_test_image(root: Path) -> Path:
    ann = json.loads((root / 'annotations' / 'test.json').read_text())
    return root / 'images' / 'test' / ann['images'][0]['file_name']


@pytest.mark.parametrize('damage', ['zero-byte', 'truncated'])
def test_eval_names_a_broken_image(tiny_train_config, checkpoints, data_copy, tmp_path, damage):
    image = _first_test_image(data_copy)
    data = image.read_bytes()
    image.write_bytes(b'' if damage == 'zero-byte' else data[:len(data) // 2])
    result = run_tool('eval', str(tiny_train_config), str(checkpoints['cpm']), '--work-dir',
                      str(tmp_path / 'work'), '--cfg-options',
                      f'test_dataloader.dataset.data_root={data_copy}')
    one_error_line(result, str(image), 'empty (0 bytes)' if damage == 'zero-byte'
                   else 'truncated')
    assert not (tmp_path / 'work' / 'metrics.json').exists()


def test_training_with_no_image_found_stops_after_a_few_misses(tiny_train_config, tmp_path):
    result = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                      '--cfg-options', 'train_dataloader.dataset.data_prefix.img=images/nowhere/')
    one_error_line(result, 'images/nowhere', 'none of the')
    assert result.stdout.count('skipped sample') + result.stderr.count('skipped sample') < 10


def test_empty_annotation_file_is_refused_by_train_and_eval(tiny_train_config, checkpoints,
                                                            data_copy, tmp_path):
    empty = data_copy / 'annotations' / 'empty.json'
    ann = json.loads((data_copy / 'annotations' / 'train.json').read_text())
    empty.write_text(json.dumps(dict(ann, images=[], annotations=[])))
    train = run_tool('train', str(tiny_train_config), '--work-dir', str(tmp_path),
                     '--cfg-options', f'train_dataloader.dataset.data_root={data_copy}',
                     'train_dataloader.dataset.ann_file=annotations/empty.json',
                     'train_dataloader.dataset.indices=None')
    one_error_line(train, 'empty.json', 'no instance')
    evaluate = run_tool('eval', str(tiny_train_config), str(checkpoints['cpm']), '--work-dir',
                        str(tmp_path), '--cfg-options',
                        f'test_dataloader.dataset.data_root={data_copy}',
                        'test_dataloader.dataset.ann_file=annotations/empty.json',
                        'test_dataloader.dataset.indices=None')
    one_error_line(evaluate, 'empty.json', 'no instance')
