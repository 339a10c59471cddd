"""Child processes that never outlive their run.

- A worker process calls :func:`watch_parent`: when its parent is gone (killed, even by
  ``kill -9``) or the parent sets the stop event, the worker interrupts its own main thread
  (a ``KeyboardInterrupt``, so the file it is writing is removed by
  :func:`~sarl_hf.files.atomic_write`) and ends.
- A tool run with ``subprocess`` gets ``preexec_fn=dies_with_parent()``: on Linux the
  kernel kills it when the thread that started it dies.
- :func:`run_tool` runs a tool so; :func:`memory_files` gives it files that live in memory
  only, so nothing is left on disk however the run ends.
- The command line turns ``SIGTERM`` into ``SystemExit`` (:func:`exit_on_sigterm`), so a
  terminated run unwinds: temporary files removed, locks released, workers stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["watch_parent", "dies_with_parent", "exit_on_sigterm", "run_tool", "tool_error",
           "memory_files"]

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
KILL_SIGNAL = int(signal.SIGKILL)


def _watch(parent_pid: int, stop, poll_s: float, grace_s: float) -> None:
    while os.getppid() == parent_pid and not (stop is not None and stop.is_set()):
        time.sleep(poll_s)
    os.kill(os.getpid(), signal.SIGINT)  # unwinds the main thread: partial files removed
    time.sleep(grace_s)
    os._exit(1)  # the main thread was idle or stuck


def watch_parent(parent_pid: int, stop=None, poll_s: float = 0.2,
                 grace_s: float = 10.0) -> threading.Thread:
    """Make this (worker) process end when ``parent_pid`` is no longer its parent or
    ``stop`` (a ``multiprocessing.Event``) is set; returns the watching daemon thread.

    The main thread gets a ``KeyboardInterrupt`` first; the process ends ``grace_s``
    seconds later whatever it does.
    """
    thread = threading.Thread(target=_watch, args=(parent_pid, stop, poll_s, grace_s),
                              name="sarl-parent-watch", daemon=True)
    thread.start()
    return thread


def _parent_death_signal(parent_pid: int):
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def set_signal() -> None:  # runs in the child between fork and exec: no imports
        prctl(PR_SET_PDEATHSIG, KILL_SIGNAL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was set
            os._exit(1)
    return set_signal


def dies_with_parent():
    """A ``preexec_fn`` for ``subprocess`` that has the kernel kill the child when the
    thread that started it dies (Linux ``PR_SET_PDEATHSIG``); None elsewhere."""
    return _parent_death_signal(os.getpid()) if sys.platform.startswith("linux") else None


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def exit_on_sigterm():
    """While the block runs (in the main thread), ``SIGTERM`` raises ``SystemExit(143)``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_tool(command: list[str], pass_fds=()) -> subprocess.CompletedProcess:
    """Run a tool (FluidSynth, espeak-ng) to the end, its output as bytes; the kernel
    kills it if this process dies first (:func:`dies_with_parent`)."""
    return subprocess.run(command, capture_output=True, check=False, pass_fds=pass_fds,
                          preexec_fn=dies_with_parent())


def tool_error(name: str, result: subprocess.CompletedProcess) -> RuntimeError:
    """The error of a tool that failed, with what it printed."""
    said = (result.stderr or result.stdout or b"").decode("utf-8", "replace").strip()
    return RuntimeError(f"{name} failed ({result.returncode}): {said[:500]}")


@contextlib.contextmanager
def memory_files(*names: str):
    """``(paths, fds)``: paths (``/dev/fd/N``) of in-memory files a tool given ``fds``
    (``pass_fds``) can read and write, and which vanish with this process however it
    ends: nothing on disk to leave behind. Where the platform has no ``memfd_create``,
    files in a temporary folder instead (and no fds)."""
    if not hasattr(os, "memfd_create"):
        with tempfile.TemporaryDirectory(prefix="sarl_gm_") as folder:
            yield tuple(str(Path(folder) / name) for name in names), ()
        return
    fds = [os.memfd_create(name) for name in names]
    try:
        yield tuple(f"/dev/fd/{fd}" for fd in fds), tuple(fds)
    finally:
        for fd in fds:
            os.close(fd)
