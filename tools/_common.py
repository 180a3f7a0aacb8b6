"""Shared command-line plumbing for poseforge's tools (config loading, clean error exit)."""
from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

# Tools run from a clone without installation too.
ROOT_DIR = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT_DIR)

from mmengine.config import DictAction  # noqa: E402

from poseforge.datasets.base import DatasetError  # noqa: E402
from poseforge.engine.checkpoint import CheckpointError  # noqa: E402
from poseforge.engine.workdir import WorkDirError  # noqa: E402
from poseforge.registry import UnknownTypeError  # noqa: E402
from poseforge.utils.config import ConfigError  # noqa: E402

#: Errors caused by the user's input: reported in one line each, exit status 2, no traceback.
USER_ERRORS = (ConfigError, UnknownTypeError, DatasetError, FileNotFoundError, CheckpointError,
               WorkDirError)
#: How torch re-raises an exception from a dataloader worker: the worker's traceback in the
#: message, ending in ``module.ErrorClass: the original message``.
_WORKER_TRACEBACK = re.compile(r'Original Traceback \(most recent call last\):.*\n'
                               r'(?:[\w.]+\.)?\w+: (?P<message>.*?)\s*$', re.S)


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction``, with one error line and exit status 2 for an item without
    ``=`` (mmengine meets it with a ``ValueError`` traceback)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            key = item.split('=', 1)[0]
            if '=' not in item or not key:
                problem = 'has no =VALUE' if '=' not in item else "has no key before '='"
                print(f"{parser.prog}: error: {option_string}: '{item}' {problem} (write "
                      "KEY=VALUE, e.g. train_cfg.max_epochs=5)", file=sys.stderr)
                sys.exit(2)
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default=None,
                        metavar='KEY=VALUE',
                        help='override config entries, e.g. train_cfg.max_epochs=5')


def default_work_dir(config: str) -> str:
    return os.path.join('work_dirs', Path(config).stem)


def error_lines(err: BaseException) -> list[str]:
    """The user-facing lines of an error: a ``KeyError``'s message unquoted, a dataloader
    worker's traceback reduced to the original message, one entry per line otherwise."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    worker = _WORKER_TRACEBACK.search(str(message))
    if worker:
        message = worker.group('message')
    return [line for line in str(message).splitlines() if line.strip()] or [type(err).__name__]


@contextmanager
def user_errors_exit(tool: str):
    """Turn input errors into ``tool: error: ...`` lines on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as err:
        for line in error_lines(err):
            print(f'{tool}: error: {line}', file=sys.stderr)
        sys.exit(2)
