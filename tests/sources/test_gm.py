"""Tests for the gm source bank (General MIDI instruments + espeak-ng speech) and its cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from conftest import descendants, nearest_centroid_accuracy, needs_gm, still_alive_after

from sarl_hf.sources import (TARGET_LOUDNESS_LUFS, GMBank, MissingSystemDependency, ProceduralBank,
                             bank_from_dict, bank_from_name, bank_names, default_bank_name,
                             loudness_normalise)
from sarl_hf.sources import gm as gm_module
from sarl_hf.sources.speech import SENTENCES
from sarl_hf.splits import SPLITS

SEED = 1
COUNTS = {"train": 4, "validation": 1, "test": 3}


def measured_lufs(x: np.ndarray, sample_rate: int) -> float:
    """BS.1770 loudness with pyloudnorm; a clip shorter than 0.4 s is measured repeated."""
    block = int(np.ceil(0.4 * sample_rate))
    x = np.resize(x.astype(np.float64), max(block, x.size))
    return pyloudnorm.Meter(sample_rate).integrated_loudness(x)


def log_mel_features(x: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256,
                     n_mels: int = 64) -> np.ndarray:
    """(3 * n_mels,) mean, std and mean absolute frame change of the log-mel spectrogram."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(hz_to_mel(50.0), hz_to_mel(sample_rate / 2),
                                           n_mels + 2) / 2595.0) - 1.0)
    freqs_hz = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    low, centre, high = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    filters = np.maximum(0.0, np.minimum((freqs_hz - low) / (centre - low),
                                         (high - freqs_hz) / (high - centre)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    log_mel = np.log(np.abs(np.fft.rfft(frames, axis=1)) ** 2 @ filters.T + 1e-8)
    return np.concatenate([log_mel.mean(axis=0), log_mel.std(axis=0),
                           np.abs(np.diff(log_mel, axis=0)).mean(axis=0)])


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("sarl_cache")


@pytest.fixture(scope="module")
def bank(cache_root) -> GMBank:
    return GMBank(seed=SEED, clips_per_split=COUNTS, cache_dir=cache_root, progress=False)


@needs_gm
def test_gm_has_instrument_families_drums_and_speech(bank):
    assert bank.rendered == len(bank.classes) * sum(COUNTS.values())
    assert list(bank.classes) == sorted(bank.classes)
    assert {"drum_kit", "speech", "piano", "brass", "bowed_strings"} <= set(bank.classes)
    assert len(bank.classes) - 2 >= 10           # pitched General MIDI families
    manifest = json.loads((bank.cache.folder / "manifest.json").read_text())
    assert len(manifest["clips"]) == bank.rendered
    assert bank.cache.folder.parent.name == "gm" and bank.cache.folder.name == bank.version
    assert bank.to_dict()["soundfont"] == "FluidR3_GM.sf2"


@needs_gm
@pytest.mark.parametrize("sample_rate, duration_s", [(16000, 2.5), (44100, 0.3), (8000, 7.0)])
def test_gm_clips_have_length_rate_and_loudness(bank, sample_rate, duration_s):
    """Every class: non-silent, exact length, within 1 LU of the target (even 0.3 s clips)."""
    for class_name in bank.classes:
        for split in SPLITS:
            clip = bank.load(bank.clip_ids(split, class_name)[0], sample_rate, duration_s)
            assert clip.dtype == np.float32 and clip.shape == (round(duration_s * sample_rate),)
            assert np.all(np.isfinite(clip)) and np.max(np.abs(clip)) > 1e-3
            assert abs(measured_lufs(clip, sample_rate) - TARGET_LOUDNESS_LUFS) < 1.0
            if duration_s > bank.clip_s:          # zero-padded beyond the rendered clip
                assert not np.any(clip[round(bank.clip_s * sample_rate) + 64:])


@needs_gm
def test_gm_classes_are_acoustically_distinct(bank):
    """A log-mel nearest-centroid classifier on held-out test clips is far above chance."""
    sample_rate = 16000

    def features(split):
        return {c: np.stack([log_mel_features(bank.load(i, sample_rate, 4.0), sample_rate)
                             for i in bank.clip_ids(split, c)]) for c in bank.classes}

    accuracy = nearest_centroid_accuracy(features("train"), features("test"), bank.classes)
    chance = 1 / len(bank.classes)
    assert accuracy >= 3 * chance, f"accuracy {accuracy:.2f}, chance {chance:.2f}"


@needs_gm
def test_gm_splits_are_disjoint(bank):
    for class_name in bank.classes:
        ids = {split: bank.clip_ids(split, class_name) for split in SPLITS}
        assert [len(ids[s]) for s in SPLITS] == [COUNTS[s] for s in SPLITS]
        assert len(set().union(*ids.values())) == sum(COUNTS.values())
        assert ids["test"][1] == f"gm/{class_name}/test/0001"
    sentences = {split: {s for i in bank.clip_ids(split, "speech") for s in SENTENCES
                         if s in bank.clip_info(i)["text"]} for split in SPLITS}
    assert all(sentences.values())
    assert not (sentences["train"] & sentences["test"]) and not (
        sentences["train"] & sentences["validation"])
    piano = [bank.clip_info(i)["notes"] for i in bank.clip_ids("train", "piano")]
    assert len({tuple(n) for n in piano}) == len(piano)       # clips differ


@needs_gm
@pytest.mark.parametrize("clip_id", ["gm/violin/train/0000", "gm/piano/train/0004",
                                     "gm/piano/train/1", "procedural/bell/train/0000"])
def test_gm_rejects_unknown_clips(bank, clip_id):
    with pytest.raises(ValueError, match="clip_id"):
        bank.load(clip_id, 16000, 1.0)
    with pytest.raises(ValueError, match="sample_rate"):
        bank.load("gm/piano/train/0000", 4000, 1.0)


@needs_gm
def test_gm_same_seed_same_bytes(bank, tmp_path):
    again = GMBank(seed=SEED, clips_per_split={"train": 1, "validation": 0, "test": 0},
                   cache_dir=tmp_path, progress=False)
    assert again.version == bank.version
    for class_name in bank.classes:
        clip_id = again.clip_ids("train", class_name)[0]
        assert again.cache.path(clip_id).read_bytes() == bank.cache.path(clip_id).read_bytes()
        assert (again.load(clip_id, 16000, 1.0).tobytes()
                == bank.load(clip_id, 16000, 1.0).tobytes())
    other = GMBank(seed=SEED + 1, clips_per_split={"train": 1, "validation": 0, "test": 0},
                   cache_dir=tmp_path, progress=False)
    assert other.version != bank.version
    clip_id = "gm/brass/train/0000"
    assert not np.allclose(other.load(clip_id, 16000, 1.0), bank.load(clip_id, 16000, 1.0))


def _count_renders(monkeypatch) -> list:
    calls = []
    render = GMBank.render

    def counted(self, clip_id):
        calls.append(clip_id)
        return render(self, clip_id)

    monkeypatch.setattr(GMBank, "render", counted)
    return calls


@needs_gm
def test_gm_second_build_hits_the_cache(bank, cache_root, monkeypatch):
    calls = _count_renders(monkeypatch)
    again = GMBank(seed=SEED, clips_per_split=COUNTS, cache_dir=cache_root, progress=False)
    again.load(again.clip_ids("test", "speech")[0], 16000, 1.0)
    assert again.rendered == 0 and calls == []
    monkeypatch.setenv("SARL_CACHE", str(cache_root))     # the cache root from the environment
    rebuilt = bank_from_dict(bank.to_dict())
    assert isinstance(rebuilt, GMBank) and rebuilt.rendered == 0 and calls == []


@needs_gm
def test_gm_corrupt_or_missing_cache_files_are_rebuilt(bank, cache_root, monkeypatch):
    corrupt, deleted, at_load = ("gm/organ/train/0001", "gm/reed/test/0002",
                                 "gm/drum_kit/validation/0000")
    original = {i: bank.cache.path(i).read_bytes() for i in (corrupt, deleted, at_load)}
    expected = bank.load(at_load, 16000, 1.0)
    data = bytearray(original[corrupt])
    data[-100] ^= 0xFF                                    # one flipped byte in the samples
    bank.cache.path(corrupt).write_bytes(bytes(data))
    bank.cache.path(deleted).unlink()
    calls = _count_renders(monkeypatch)
    again = GMBank(seed=SEED, clips_per_split=COUNTS, cache_dir=cache_root, progress=False)
    assert sorted(calls) == sorted([corrupt, deleted]) and again.rendered == 2
    assert all(bank.cache.path(i).read_bytes() == original[i] for i in (corrupt, deleted))
    bank.cache.path(at_load).write_bytes(original[at_load][:-4] + b"\0\0\0\0")
    with pytest.warns(UserWarning, match="corrupt"):
        clip = again.load(at_load, 16000, 1.0)
    assert clip.tobytes() == expected.tobytes() and calls[-1] == at_load
    assert bank.cache.path(at_load).read_bytes() == original[at_load]


def test_gm_without_soundfont_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("SARL_SOUNDFONT", str(tmp_path / "missing.sf2"))
    for make in (lambda: GMBank(cache_dir=tmp_path), lambda: bank_from_name("gm")):
        with pytest.raises(FileNotFoundError, match="apt-get install fluid-soundfont-gm"):
            make()
    with pytest.raises(MissingSystemDependency, match="soundfont"):
        GMBank(soundfont=tmp_path / "other.sf2", cache_dir=tmp_path)
    assert default_bank_name() == "procedural"
    procedural = bank_from_name("procedural")
    assert isinstance(procedural, ProceduralBank)
    assert procedural.load(procedural.clip_ids("test", "bell")[0], 16000, 0.5).shape == (8000,)
    assert not list(tmp_path.glob("gm"))                  # nothing was cached
    assert "gm" in bank_names()


def test_gm_without_programs_says_what_to_install(tmp_path, monkeypatch):
    soundfont = tmp_path / "fake.sf2"
    soundfont.write_bytes(b"RIFF")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingSystemDependency, match="fluidsynth and espeak-ng.*apt-get"):
        gm_module.find_tools(soundfont)


@needs_gm
def test_default_bank_name_prefers_gm():
    assert default_bank_name() == "gm"


def test_loudness_normalise_hits_target_even_below_one_block():
    rng = np.random.default_rng(0)
    for n_samples in (800, 16000):                        # 0.05 s and 1 s at 16 kHz
        x = rng.standard_normal(n_samples) * 0.01
        assert abs(measured_lufs(loudness_normalise(x, 16000), 16000) + 26.0) < 0.01
        assert abs(measured_lufs(loudness_normalise(x, 16000, -18.0), 16000) + 18.0) < 0.01
    with pytest.warns(UserWarning, match="silent"):
        assert not np.any(loudness_normalise(np.zeros(100), 16000))
    with pytest.raises(ValueError, match="x must"):
        loudness_normalise(np.ones((2, 100)), 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loudness_normalise(rng.standard_normal(100), 16000)


BUILD = ("import sys\nfrom sarl_hf.sources import GMBank\n"
         "GMBank(seed=11, clips_per_split={'train': 3, 'validation': 1, 'test': 1}, "
         "cache_dir=sys.argv[1], num_workers=2, progress=False)\n")


def _renders_a_clip(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(command[0].decode()).name in ("fluidsynth", "espeak-ng") and \
        b"--version" not in command


@needs_gm
def test_a_killed_build_leaves_no_tool_running_and_no_temporary_file(tmp_path):
    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir()
    build = subprocess.Popen([sys.executable, "-c", BUILD, str(cache)],
                             env=dict(os.environ, TMPDIR=str(temp)), stderr=subprocess.PIPE)
    deadline, tools = time.monotonic() + 120, []
    while not tools:  # until FluidSynth or espeak-ng renders a clip
        assert build.poll() is None and time.monotonic() < deadline, build.stderr.read()
        tools = [p for p in descendants(build.pid) if _renders_a_clip(p)]
        time.sleep(0.002)
    build.kill()
    build.wait()
    left = still_alive_after(tools, 10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left
    assert not list(temp.iterdir())  # nothing in the temporary folder
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix not in (".wav", ".json")]
