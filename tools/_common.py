"""Shared command-line plumbing for poseforge's tools (config loading, clean error exit)."""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

# Tools run from a clone without installation too.
ROOT_DIR = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT_DIR)

from mmengine.config import DictAction  # noqa: E402

from poseforge.datasets.base import DatasetError  # noqa: E402
from poseforge.engine.checkpoint import UnsafeCheckpointError  # noqa: E402
from poseforge.registry import UnknownTypeError  # noqa: E402
from poseforge.utils.config import ConfigError  # noqa: E402

#: Errors caused by the user's input: reported in one line, exit status 2, no traceback.
USER_ERRORS = (ConfigError, UnknownTypeError, DatasetError, FileNotFoundError,
               UnsafeCheckpointError)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        metavar='KEY=VALUE',
                        help='override config entries, e.g. train_cfg.max_epochs=5')


def default_work_dir(config: str) -> str:
    return os.path.join('work_dirs', Path(config).stem)


@contextmanager
def user_errors_exit(tool: str):
    """Turn input errors into ``tool: error: ...`` on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'{tool}: error: {msg}', file=sys.stderr)
        sys.exit(2)
