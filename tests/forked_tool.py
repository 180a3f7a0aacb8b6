"""Run a command-line tool's ``main`` in a forked child process, as a subprocess would.

Starting a fresh interpreter costs seconds here (torch and mmengine imports) for each of the
dozens of tool runs the reliability tests make; a fork of the test process has them already.
The child runs ``tools/<tool>.py``'s ``main(argv)`` with stdout and stderr redirected to files,
and exits with the status the tool would give (``sys.exit`` codes, 1 on an uncaught exception
with its traceback on stderr), so the parent checks exit status, output lines and files exactly
as for a subprocess. Each child starts from the parent's state and its own changes die with
it; it runs torch with one intra-op thread, whatever the parent uses at the time (bit-exact
comparisons between runs need one thread count). Runs that must be real interpreters (torchrun,
interpreter exit) use ``subprocess`` instead.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass


@dataclass
class ToolResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cpu_seconds: float = 0.0  # user + system time of the child and its own children

    @property
    def error_lines(self) -> list[str]:
        """The ``tool: error: ...`` lines of stderr."""
        return [line for line in self.stderr.splitlines() if ': error: ' in line]


def _child(tool: str, argv: list[str], out_fd: int, err_fd: int, env: dict | None) -> int:
    import torch
    torch.set_num_threads(1)  # a fixed thread count: float sums are then reproducible
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    sys.stdout = open(1, 'w', closefd=False, buffering=1)
    sys.stderr = open(2, 'w', closefd=False, buffering=1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if env:
        os.environ.update(env)
    sys.argv = [f'{tool}.py', *argv]
    code = 0
    try:
        importlib.import_module(tool).main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # what the interpreter would print for an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def start_tool(tool: str, argv: list[str], env: dict | None = None):
    """Fork a child running ``tool``'s main; returns ``(pid, stdout file, stderr file, t0)``."""
    out, err = tempfile.TemporaryFile('w+'), tempfile.TemporaryFile('w+')
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = _child(tool, argv, out.fileno(), err.fileno(), env)
        finally:
            os._exit(code)
    return pid, out, err, time.perf_counter()


def finish_tool(started, timeout: float = 300) -> ToolResult:
    """Wait for a child of :func:`start_tool` (killed after ``timeout`` s: returncode -9)."""
    pid, out, err, t0 = started
    deadline = t0 + timeout
    status = usage = None
    while status is None:
        done, raw, usage = os.wait4(pid, os.WNOHANG)
        if done:
            status = raw
        elif time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
        else:
            time.sleep(0.05)
    code = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return ToolResult(code, out.read(), err.read(), time.perf_counter() - t0,
                      usage.ru_utime + usage.ru_stime)


def run_tool(tool: str, *argv: str, env: dict | None = None, timeout: float = 300
             ) -> ToolResult:
    """Run ``tools/<tool>.py`` with ``argv`` in a forked child and wait for it."""
    return finish_tool(start_tool(tool, list(argv), env), timeout)
