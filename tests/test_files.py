"""sarl_hf.files: the one atomic writer, file hash, JSON digest and WAV encoder."""

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from sarl_hf.files import (PARTIAL_SUFFIX, atomic_write, files_digest, json_digest,
                           remove_partial_files, sha256_file, wav_bytes, write_json)


@pytest.mark.parametrize("content", [b"\x00bytes", "text ÷", lambda tmp: Path(tmp).write_text("x")])
def test_atomic_write_takes_bytes_text_or_a_writer(tmp_path, content):
    target = tmp_path / "sub" / "file"
    atomic_write(target, content)
    expected = {bytes: b"\x00bytes", str: "text ÷".encode()}.get(type(content), b"x")
    assert target.read_bytes() == expected
    assert not list(target.parent.glob(f"*{PARTIAL_SUFFIX}"))


def test_atomic_write_gives_the_usual_file_permissions(tmp_path):
    saved = os.umask(0o022)
    try:
        atomic_write(tmp_path / "shared.json", "{}")
        os.umask(0o077)
        atomic_write(tmp_path / "private.json", "{}")
    finally:
        os.umask(saved)
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*"))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "kept.txt"
    atomic_write(target, "old")

    def broken(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


_HALF_WRITE = """
import sys, time
from pathlib import Path
from sarl_hf.files import atomic_write
def write(tmp):
    with open(tmp, "wb") as handle:
        handle.write(b"half" * 1000)
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
atomic_write(Path(sys.argv[1]) / "shard.parquet", write)
"""


def test_a_write_killed_with_sigkill_leaves_nothing_behind(tmp_path):
    import signal
    import subprocess
    import sys
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", _HALF_WRITE, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "writing"
        # mid-write the folder holds no name at all: the file is unnamed until complete
        assert list(tmp_path.iterdir()) == []
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_where_no_unnamed_file_can_be_made_a_hidden_part_name_is_used(tmp_path, monkeypatch):
    import sarl_hf.files as files
    monkeypatch.setattr(files, "_unnamed_file", lambda folder: None)
    seen = []
    atomic_write(tmp_path / "x.txt", lambda tmp: (seen.append(Path(tmp).name),
                                                  Path(tmp).write_text("x")))
    assert seen[0].startswith(".x.txt.") and seen[0].endswith(PARTIAL_SUFFIX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == files._default_file_mode()


def test_partial_files_left_by_a_killed_run_are_removed(tmp_path):
    stray = tmp_path / "a" / f".x.json.abc{PARTIAL_SUFFIX}"
    stray.parent.mkdir()
    stray.write_text("half")
    kept = tmp_path / "a" / "x.json"
    kept.write_text("{}")
    assert remove_partial_files(tmp_path) == [stray]
    assert not stray.exists() and kept.exists()


def test_write_json_is_sorted_and_readable(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a.json").read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}'
    write_json(tmp_path / "b.json", {"b": 1, "a": 2}, sort_keys=False, indent=None)
    assert json.loads((tmp_path / "b.json").read_text()) == {"b": 1, "a": 2}
    assert (tmp_path / "b.json").read_text() == '{"b": 1, "a": 2}'


def test_sha256_file_is_the_sha256_of_the_bytes(tmp_path):
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # several read blocks
    (tmp_path / "blob").write_bytes(data)
    assert sha256_file(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def test_json_digest_ignores_key_order_but_not_values():
    assert json_digest({"a": 1, "b": [1, 2]}) == json_digest({"b": [1, 2], "a": 1})
    assert json_digest({"a": 1}) != json_digest({"a": 2})
    assert len(json_digest({"a": 1})) == 16 and len(json_digest({"a": 1}, 64)) == 64
    compact = json_digest({"a": 1}, separators=(",", ":"))
    assert compact == hashlib.sha256(b'{"a":1}').hexdigest()[:16] != json_digest({"a": 1})


def test_files_digest_changes_with_a_byte_or_a_name(tmp_path):
    for name, text in (("a.bin", "1"), ("b.bin", "2")):
        (tmp_path / name).write_text(text)
    files = sorted(tmp_path.iterdir())
    first = files_digest(files, tmp_path)
    (tmp_path / "b.bin").write_text("3")
    assert files_digest(files, tmp_path) != first
    (tmp_path / "b.bin").write_text("2")
    assert files_digest(files, tmp_path) == first
    (tmp_path / "b.bin").rename(tmp_path / "c.bin")
    assert files_digest(sorted(tmp_path.iterdir()), tmp_path) != first


@pytest.mark.parametrize("shape", [(1000,), (1, 1000), (4, 1000)])
def test_wav_bytes_hold_the_exact_samples_channels_first(shape):
    audio = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    data = wav_bytes(audio, 16000)
    assert data == wav_bytes(audio.copy(), 16000)  # no timestamp: same samples, same bytes
    rate, read = wavfile.read(io.BytesIO(data))
    assert rate == 16000 and read.dtype == np.float32
    np.testing.assert_array_equal(np.atleast_2d(read.T), np.atleast_2d(audio))
