"""One training run per work dir: a lock file, checked before anything is built.

Two runs writing into one work dir interleave their checkpoints (``epoch_1`` from one seed,
``best`` from the other) and nothing says so. :class:`WorkDirLock` creates
``<work_dir>/.poseforge.lock`` exclusively (``O_CREAT | O_EXCL``) with the owner's pid, host,
process start time and command line; a second run finds it and stops with one line naming the
owner. A lock whose process is gone (killed with ``kill -9``, the machine rebooted) is stale:
on the same host poseforge sees that the pid no longer runs, or now belongs to a process
started at another time, and takes the lock over, saying so. A lock from another host cannot
be checked and counts as held; ``--force`` takes any lock over.

Creating the lock is also the check that the work dir can be written, before any data is
loaded: a work dir under a file, on a read-only mount or without permission fails here with
its path.

This module imports only the standard library.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = '.poseforge.lock'


class WorkDirError(OSError):
    """The work dir cannot be used: not writable, or locked by another run."""


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class WorkDirLock:
    """``with WorkDirLock(work_dir):`` holds the work dir for this process.

    Args:
        work_dir: created if missing.
        force: take the lock over even if another live run holds it.
    """

    def __init__(self, work_dir: str | os.PathLike, force: bool = False) -> None:
        self.work_dir = Path(work_dir)
        self.path = self.work_dir / LOCK_NAME
        self.force = force
        self.notice: str | None = None  # what happened to a previous lock, if anything
        self._held = False

    # ------------------------------------------------------------------ info
    @staticmethod
    def _own_info() -> dict:
        pid = os.getpid()
        return dict(pid=pid, host=socket.gethostname(), start=_process_start(pid),
                    started=time.strftime('%Y-%m-%d %H:%M:%S'),
                    command=' '.join(sys.argv)[:300])

    def owner(self) -> dict | None:
        """The recorded owner of the lock (``{}`` if unreadable), ``None`` if there is none."""
        try:
            text = self.path.read_text(encoding='utf-8')
        except FileNotFoundError:
            return None
        except OSError:
            return {}
        try:
            info = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return info if isinstance(info, dict) else {}

    def _stale(self, info: dict) -> bool:
        """Whether the lock's owner is known to be gone."""
        if not info:  # unreadable: a writer killed between create and write, or mid-write
            try:
                return time.time() - self.path.stat().st_mtime > 10
            except FileNotFoundError:
                return True
        if info.get('host') != socket.gethostname():
            return False
        pid = int(info.get('pid', -1))
        if pid <= 0 or not _alive(pid):
            return True
        start = _process_start(pid)
        return bool(start and info.get('start') and start != info['start'])

    # ------------------------------------------------------------------ acquire / release
    def acquire(self) -> 'WorkDirLock':
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WorkDirError(f"work dir '{self.work_dir}' cannot be created: "
                               f'{err.strerror or err}') from None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._handle_existing()
                continue
            except OSError as err:
                raise WorkDirError(f"work dir '{self.work_dir}' cannot be written: "
                                   f'{err.strerror or err}') from None
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                json.dump(self._own_info(), f)
            self._held = True
            return self
        raise WorkDirError(f"work dir '{self.work_dir}': could not take the lock "
                           f"'{self.path}' (another run keeps creating it)")

    def _handle_existing(self) -> None:
        info = self.owner()
        if info is None:  # released in the meantime
            return
        who = (f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started "
               f"{info.get('started', '?')}") if info else 'an unreadable lock file'
        if self._stale(info):
            self.notice = f"removed a stale lock of a run that is no longer running ({who})"
        elif self.force:
            self.notice = f'--force: took over the lock of {who}'
        else:
            raise WorkDirError(
                f"work dir '{self.work_dir}' is in use by another training run ({who}); wait "
                'for it to end, choose another --work-dir, or pass --force if it is not '
                f"running (lock: '{self.path}')")
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if self._held and (self.owner() or {}).get('pid') == os.getpid():
            self.path.unlink(missing_ok=True)
        self._held = False

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
