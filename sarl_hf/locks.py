"""One run at a time per output folder: a lock file that says who holds it.

:func:`folder_lock` holds ``<folder>/.sarl.lock`` with an exclusive ``flock`` for as long
as a run writes the folder (``sarl generate`` its corpus, ``sarl embed`` a cache folder,
``sarl bench`` its output). The file holds the holder's PID, start time and what it does,
so a second run is refused with "in use by PID N since ...". The kernel drops the
``flock`` when its holder dies, even by ``kill -9``: the next run then finds the file of a
process that is gone, says so in a warning and takes the lock over (stale-lock recovery).
The file is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import warnings
from pathlib import Path

from .errors import FolderInUse

__all__ = ["LOCK_NAME", "folder_lock", "lock_holder"]

#: The lock file's name inside the folder it locks.
LOCK_NAME = ".sarl.lock"


def lock_holder(folder) -> dict | None:
    """What the lock file of ``folder`` says (``pid``, ``since``, ``what``, ``host``), or
    None when there is none or it is unreadable."""
    try:
        holder = json.loads((Path(folder) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and "pid" in holder else None


def _pid_running(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def _acquire(path: Path, what: str) -> int:
    """The file descriptor of the locked ``path``; FolderInUse if another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_holder(path.parent) or {}
            raise FolderInUse(f"{path.parent} is in use by PID {holder.get('pid', '?')} since "
                              f"{holder.get('since', '?')} ({holder.get('what', 'a sarl run')});"
                              " wait for it to end, or stop it") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its last holder removed while this process waited
            return fd
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder, what: str):
    """Hold the lock of ``folder`` (created if missing) while the ``with`` block runs.

    Parameters
    ----------
    folder : str or Path
    what : str
        What the run does, for the message a second run gets (``"sarl generate"``).

    Raises
    ------
    FolderInUse
        When a running process holds it: "<folder> is in use by PID N since <time> (...)".
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = _acquire(path, what)
    try:
        stale = lock_holder(folder)
        if stale is not None:
            state = "is no longer running" if not _pid_running(stale["pid"]) else \
                "no longer holds it"
            warnings.warn(f"{folder}: taking over the lock PID {stale['pid']} left (since "
                          f"{stale.get('since', '?')}); that process {state}", stacklevel=3)
        holder = {"pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "what": what, "host": socket.gethostname()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
