"""Folder locks (sarl_hf.locks) and processes that end with their run (sarl_hf.processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import descendants, hold_lock, still_alive_after

from sarl_hf.errors import FolderInUse
from sarl_hf.locks import LOCK_NAME, folder_lock, lock_holder
from sarl_hf.processes import memory_files, run_tool


def test_a_held_folder_is_refused_with_its_holder(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(FolderInUse, match=rf"in use by PID {holder.pid} since "
                           r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(a test holder\)"):
            with folder_lock(tmp_path, "a second run"):
                pass
        assert lock_holder(tmp_path)["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_holder_is_taken_over(tmp_path):
    holder = hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)  # leaves its lock file behind
    holder.wait()
    assert lock_holder(tmp_path)["pid"] == holder.pid
    with pytest.warns(UserWarning, match=rf"taking over the lock PID {holder.pid} left .* "
                      "no longer running"):
        with folder_lock(tmp_path, "the next run") as path:
            assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()  # released: the file is gone


def test_a_lock_is_released_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with folder_lock(tmp_path / "new", "a failing run"):
            raise RuntimeError("boom")
    with folder_lock(tmp_path / "new", "the next run"):
        with pytest.raises(FolderInUse, match=f"PID {os.getpid()}"):  # one holder at a time
            with folder_lock(tmp_path / "new", "the same process again"):
                pass


def test_a_copied_lock_file_is_stale(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 999_999_999, "since": "then"}))
    with pytest.warns(UserWarning, match="PID 999999999"):
        with folder_lock(tmp_path, "a run"):
            pass


def test_a_worker_ends_with_its_parent(tmp_path):
    """A process that watches its parent ends soon after the parent is killed."""
    code = ("import os, subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import os, time; "
            "from sarl_hf.processes import watch_parent; watch_parent(os.getppid()); "
            "time.sleep(120)'])\nprint(child.pid, flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(1.0)  # the child is watching
    parent.kill()
    parent.wait()
    assert not still_alive_after([child], 20)


def test_a_tool_dies_with_the_process_that_runs_it():
    code = ("import threading, time\nfrom sarl_hf.processes import run_tool\n"
            "threading.Thread(target=run_tool, args=(['sleep', '120'],), daemon=True).start()\n"
            "print('started', flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while not descendants(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    tools = descendants(parent.pid)
    parent.kill()
    parent.wait()
    left = still_alive_after(tools, 10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert tools and not left


def test_memory_files_leave_nothing_on_disk():
    with memory_files("a.wav") as ((path,), fds):
        assert path.startswith("/dev/fd/")
        done = run_tool(["sh", "-c", f"printf hello > {path}"], fds)
        assert done.returncode == 0 and Path(path).read_bytes() == b"hello"
    assert fds and not any(Path(f"/proc/self/fd/{fd}").exists() and
                           "memfd" in os.readlink(f"/proc/self/fd/{fd}") for fd in fds)
