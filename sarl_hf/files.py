"""Files every stage writes and checks: one atomic writer, one file hash, one JSON digest,
one WAV encoder.

A file is written to an unnamed temporary file in its own folder (Linux ``O_TMPFILE``),
which gets a hidden name (``.<name>.<random>.part``) only once complete, for the instant
before it is renamed into place: a reader never sees half a file, and a run killed even
with SIGKILL leaves nothing behind (the kernel frees an unnamed file with its last
descriptor). Where ``O_TMPFILE`` is missing (other systems, some file systems) the file is
written under the hidden name from the start, so an interrupted run can leave ``.part``
files, which :func:`remove_partial_files` clears before a rerun.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from .errors import CorruptFile

__all__ = ["PARTIAL_SUFFIX", "atomic_write", "write_json", "read_json", "remove_partial_files",
           "sha256_file", "check_sha256", "read_verified", "files_digest", "json_digest",
           "wav_bytes"]

#: Suffix of the temporary files :func:`atomic_write` renames into place.
PARTIAL_SUFFIX = ".part"


def _default_file_mode() -> int:
    """The mode ``open()`` gives a new file under the process's umask (0o644 under 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, content) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it.

    Parameters
    ----------
    path : str or Path
    content : bytes, str or callable
        The bytes or text (UTF-8) to write, or ``write(tmp_path)``, a function that
        writes the file at ``tmp_path`` (a ``/proc/self/fd`` path for an unnamed file).

    The file gets the usual permissions of a new file; on any error nothing is left and
    ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _unnamed_file(path.parent)
    if fd is None:
        _write_named(path, content)
        return
    try:
        _write_content(f"/proc/self/fd/{fd}", content)
        os.fchmod(fd, _default_file_mode())
        _link_into_place(fd, path)
    finally:
        os.close(fd)


def _unnamed_file(folder: Path):
    """A descriptor of a new unnamed (``O_TMPFILE``) file in ``folder``, or None where the
    system or file system has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not Path("/proc/self/fd").is_dir():
        return None
    try:
        return os.open(folder, flag | os.O_RDWR, 0o600)
    except OSError:
        return None


def _link_into_place(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` a hidden name beside ``path``, then rename it there."""
    # with a dir_fd, os.link calls linkat(AT_SYMLINK_FOLLOW), which links the file the
    # /proc entry points at (plain link() would link the symlink itself: EXDEV)
    proc_fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}{PARTIAL_SUFFIX}"
            try:
                os.link(str(fd), tmp, src_dir_fd=proc_fd, follow_symlinks=True)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free temporary name beside {path}")
    finally:
        os.close(proc_fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_content(tmp: str, content) -> None:
    if callable(content):
        content(tmp)
    else:
        Path(tmp).write_bytes(content.encode() if isinstance(content, str) else content)


def _write_named(path: Path, content) -> None:
    """:func:`atomic_write` where no unnamed file can be made: a hidden ``.part`` name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    try:
        _write_content(tmp, content)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, value, *, sort_keys: bool = True, indent: int | None = 1,
               default=None) -> None:
    """Write ``value`` as JSON to ``path`` atomically (``json.dumps`` arguments)."""
    atomic_write(path, json.dumps(value, sort_keys=sort_keys, indent=indent, default=default))


def read_json(path, what: str, kind=dict):
    """The JSON value of ``path``, which must be a ``kind`` (dict by default); else a
    CorruptFile naming the file, ``what`` it should be and what is wrong with it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise CorruptFile(f"{path} is not {what}: not UTF-8 text ({error.reason})",
                          path) from None
    except json.JSONDecodeError as error:
        raise CorruptFile(f"{path} is not {what}: not valid JSON ({error})", path) from None
    except RecursionError:
        raise CorruptFile(f"{path} is not {what}: its JSON is nested too deeply", path) from None
    if not isinstance(value, kind):
        raise CorruptFile(f"{path} is not {what}: it holds a JSON {type(value).__name__}, "
                          f"not a {kind.__name__}", path)
    return value


def remove_partial_files(folder) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_write` left below ``folder``."""
    found = sorted(Path(folder).glob(f"**/.*{PARTIAL_SUFFIX}"))
    for path in found:
        path.unlink(missing_ok=True)
    return found


def sha256_file(path) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path, found: str, expected, record: str) -> None:
    """CorruptFile naming ``path`` unless its sha256 ``found`` is the ``expected`` one that
    ``record`` (the file that lists it) holds."""
    if found != expected:
        raise CorruptFile(f"{path} does not match its sha256 in {record} (found "
                          f"{found[:12]}…, recorded {str(expected)[:12]}…): the file changed "
                          "after it was written", path)


def read_verified(path, expected: str, record: str) -> bytes:
    """The bytes of ``path``, hashed as they are read, if their sha256 is ``expected``
    (see :func:`check_sha256`); a missing file is a CorruptFile too."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CorruptFile(f"{path} is listed in {record} but missing", path) from None
    check_sha256(path, hashlib.sha256(data).hexdigest(), expected, record)
    return data


def files_digest(paths, root, file_hash=sha256_file) -> str:
    """sha256 (hex) over the paths (relative to ``root``) and hashes of several files, in
    the order given: one digest for a folder of weights."""
    entries = [[Path(p).relative_to(root).as_posix(), file_hash(p)] for p in paths]
    return json_digest(entries, length=64)


def json_digest(value, length: int = 16, separators=None) -> str:
    """The first ``length`` hex digits of the sha256 of ``value`` as canonical JSON (keys
    sorted; values JSON cannot hold as their ``str``). ``separators`` as in ``json.dumps``.

    >>> json_digest({"b": 1, "a": [1, 2]})
    '3813f9409eb0095b'
    """
    text = json.dumps(value, sort_keys=True, default=str, separators=separators)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Float32 WAV bytes of a signal; no timestamp chunk, so equal samples, equal bytes.

    Parameters
    ----------
    audio : ndarray, shape (channels, samples) or (samples,)
    sample_rate : int
        Hz.
    """
    buffer = io.BytesIO()
    samples = np.asarray(audio, np.float32)
    wavfile.write(buffer, int(sample_rate), np.ascontiguousarray(samples.T))
    return buffer.getvalue()
