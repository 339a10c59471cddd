"""Argument checks every stage shares, and the arithmetic that refuses a request the machine
cannot hold before any work starts.

Each check names the argument, the value it got and what is allowed, in one line:

>>> check_integer("scenes", 2.5, minimum=3)
Traceback (most recent call last):
...
ValueError: scenes must be an integer >= 3, got 2.5
>>> check_number("duration_s", float("inf"), 0.1, 3600)
Traceback (most recent call last):
...
ValueError: duration_s must be a finite number in [0.1, 3600], got inf
>>> format_bytes(3 * 2**30)
'3.0 GiB'
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

__all__ = ["check_integer", "check_number", "check_device", "available_memory",
           "format_bytes", "check_memory"]

#: Where a cgroup (v2) states the memory this process may use.
CGROUP_MEMORY = Path("/sys/fs/cgroup")


def _bounds(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f" >= {minimum:g}"
    return f" <= {maximum:g}" if maximum is not None else ""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not (
        type(value).__name__ == "bool_")


def check_integer(name: str, value, minimum=None, maximum=None) -> int:
    """``value`` as an int: a whole number (an integral float too, not a bool or a string)
    within ``[minimum, maximum]``; else a ValueError naming ``name``, the value and the
    range."""
    whole = _is_real(value) and math.isfinite(value) and float(value).is_integer()
    if not whole or (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_bounds(minimum, maximum)}, got "
                         f"{value!r}")
    return int(value)


def check_number(name: str, value, minimum=None, maximum=None, *,
                 above_minimum: bool = False) -> float:
    """``value`` as a float: a finite real number within ``[minimum, maximum]`` (above
    ``minimum`` with ``above_minimum``); else a ValueError naming ``name``."""
    ok = _is_real(value) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if above_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        bounds = (f" > {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
                  if above_minimum else _bounds(minimum, maximum))
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    return float(value)


def default_device() -> str:
    """Where sarl_hf runs when no device is given: ``cuda`` when this machine has a CUDA
    device, else ``cpu`` (what ``accelerate`` picks for a single process; under
    ``accelerate launch`` each process takes its own GPU)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device, name: str = "device") -> str:
    """``device`` as a string, if torch knows it and this machine has it (``cpu``,
    ``cuda``, ``cuda:1``, ``mps``); else a ValueError saying which devices are here."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be a torch device such as cpu, cuda or cuda:1, got "
                         f"{device!r}") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if parsed.index is not None and parsed.index >= count or count == 0:
            raise ValueError(f"{name} {device!r}: this machine has {count} CUDA device(s); "
                             "use cpu" + (f" or cuda:0 to cuda:{count - 1}" if count else ""))
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name} {device!r}: MPS is not available here; use cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} {device!r}: sarl_hf runs on cpu, cuda or mps")
    return str(device)


def _cgroup_room() -> int | None:
    """Bytes the process's cgroup still allows (None without a cgroup limit)."""
    try:
        limit = (CGROUP_MEMORY / "memory.max").read_text().strip()
        used = int((CGROUP_MEMORY / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def available_memory() -> int:
    """Bytes of memory a new allocation can use now: the kernel's ``MemAvailable`` (or the
    physical memory where it is not reported), less where a cgroup limit is lower."""
    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    if found is None:
        found = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    room = _cgroup_room()
    return found if room is None else min(found, room)


def format_bytes(count: float) -> str:
    """A byte count for people: ``'512 B'``, ``'3.5 MiB'``, ``'119.2 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"


def check_memory(what: str, needed: float, advice: str = "") -> None:
    """Refuse, by arithmetic, work that needs more memory than is available.

    Parameters
    ----------
    what : str
        The request, as the message should name it (``"a scene of 1e+06 s in foa"``).
    needed : float
        Bytes it would need at its peak.
    advice : str
        What to change, appended to the message (``"shorten duration_s"``).
    """
    available = available_memory()
    if needed > available:
        hint = f"; {advice}" if advice else ""
        raise ValueError(f"{what} would need about {format_bytes(needed)} of memory; this "
                         f"machine has {format_bytes(available)} available{hint}")
