"""Atomic file writes: the one writer every poseforge module uses (checkpoints, logs, metrics,
generated images and annotations).

A file is written to a temporary in the same folder, then ``os.replace``-d onto its name,
which is atomic on POSIX: readers, and a run resumed after a kill, see the previous complete
file or the new complete file, never a truncated one. The temporary is named
``.<name>.<random>.tmp`` (hidden, unique per writer, so two writers of one path never share a
temporary) and is deleted if the write fails; a process killed mid-write leaves it behind, and
:func:`remove_stale_temporaries` clears such leftovers when the next run starts.

``durable=True`` (the default) also ``fsync``-s the data before the rename, so that after a
power cut the name holds either file, not an empty one. The generator writes thousands of
small, re-creatable images and passes ``durable=False``: atomic against a killed process, and
several times faster.

Only the standard library is imported here: the generator's worker processes stay free of
torch and mmengine.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

TMP_SUFFIX = '.tmp'
#: ``.<name>.<8 random characters from mkstemp>.tmp``
_TMP_PATTERN = re.compile(r'^\..+\.[A-Za-z0-9_]{8}\.tmp$')


def atomic_write_bytes(data: bytes, path: str | os.PathLike, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written.

    Creates the parent folder. On any error (Ctrl-C included) the temporary is removed and
    the previous content of ``path``, if any, is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the usual rights
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(text: str, path: str | os.PathLike, durable: bool = True) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(text.encode('utf-8'), path, durable=durable)


def atomic_write_json(data: Any, path: str | os.PathLike, durable: bool = True,
                      **dumps_kwargs: Any) -> None:
    """:func:`atomic_write_bytes` of ``json.dumps(data, **dumps_kwargs)``."""
    atomic_write_text(json.dumps(data, **dumps_kwargs), path, durable=durable)


def is_temporary(name: str) -> bool:
    """Whether ``name`` (a file name) is a temporary left by :func:`atomic_write_bytes`."""
    return bool(_TMP_PATTERN.match(name))


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = False,
                             extra_suffixes: tuple[str, ...] = ()) -> list[str]:
    """Delete the temporaries a killed writer left in ``folder``; return their paths.

    Call it only when no other process writes into ``folder`` (the training work dir is
    locked; the generator claims its output dir). ``extra_suffixes`` also matches older
    naming schemes (the generator's ``.partial`` files).
    """
    removed: list[str] = []
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return removed
    walker = os.walk(folder) if recursive else [(folder, [], os.listdir(folder))]
    for root, _, names in walker:
        for name in names:
            if is_temporary(name) or (extra_suffixes and name.endswith(extra_suffixes)):
                path = os.path.join(root, name)
                if os.path.isfile(path):
                    os.remove(path)
                    removed.append(path)
    return removed


def _umask() -> int:
    # os.umask can only be read by setting it; cached, since it does not change in a run.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None
