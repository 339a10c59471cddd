"""Tests for sarl_hf.sources: procedural, folder and dataset source banks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf
from conftest import nearest_centroid_accuracy

from sarl_hf.sources import (TARGET_RMS_DBFS, DatasetBank, FolderBank, ProceduralBank,
                             bank_from_dict, rms_normalise)
from sarl_hf.splits import SPLITS

FILE_RATE = 44100


def rms_dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def tone(freq_hz: float, duration_s: float, sample_rate: int = FILE_RATE,
         level: float = 0.3) -> np.ndarray:
    """(samples,) float32 sine of ``freq_hz`` Hz."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (level * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def band_features(x: np.ndarray, sample_rate: int, n_fft: int = 512,
                  n_bands: int = 32) -> np.ndarray:
    """Log band energies (log-spaced bands 50 Hz - 7.5 kHz) summarised over frames.

    Returns (3 * n_bands,): per band the mean, the std and the mean absolute
    frame-to-frame change of the log energy.
    """
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs_hz = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    edges_hz = np.geomspace(50, 7500, n_bands + 1)
    bin_hz = sample_rate / n_fft       # narrow low bands get at least one bin
    bands = np.stack([power[:, (freqs_hz >= lo) & (freqs_hz < max(hi, lo + bin_hz))].sum(axis=1)
                      for lo, hi in zip(edges_hz[:-1], edges_hz[1:])], axis=1)
    log_bands = np.log(bands + 1e-10)
    return np.concatenate([log_bands.mean(axis=0), log_bands.std(axis=0),
                           np.abs(np.diff(log_bands, axis=0)).mean(axis=0)])


# --------------------------------------------------------------------------- procedural


@pytest.fixture(scope="module")
def procedural() -> ProceduralBank:
    return ProceduralBank(seed=3)


def test_procedural_has_many_classes(procedural):
    assert len(procedural.classes) >= 10
    assert list(procedural.classes) == sorted(procedural.classes)


@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_procedural_clips_have_exact_length_and_level(procedural, sample_rate):
    for clip_id in (i for c in procedural.classes for i in procedural.clip_ids("train", c)[:3]):
        clip = procedural.load(clip_id, sample_rate, 1.3)
        assert clip.dtype == np.float32
        assert clip.shape == (round(1.3 * sample_rate),)
        assert np.all(np.isfinite(clip))
        assert np.max(np.abs(clip)) > 1e-3
        assert abs(rms_dbfs(clip) - TARGET_RMS_DBFS) < 0.1
        assert np.max(np.abs(clip)) < 1.0, f"{clip_id} clips at full scale"


def test_procedural_energy_lies_in_the_rendered_band(procedural):
    """At 44.1 kHz, >= 90 % of every clip's energy lies in 50 Hz - 7.5 kHz."""
    for clip_id in (i for c in procedural.classes for i in procedural.clip_ids("test", c)[:2]):
        power = np.abs(np.fft.rfft(procedural.load(clip_id, 44100, 1.0))) ** 2
        freqs_hz = np.fft.rfftfreq(44100, 1 / 44100)
        in_band = power[(freqs_hz >= 50) & (freqs_hz <= 7500)].sum() / power.sum()
        assert in_band >= 0.9, f"{clip_id}: only {in_band:.2f} of its energy in 50 Hz - 7.5 kHz"


def test_procedural_is_deterministic_and_varied(procedural):
    ids = procedural.clip_ids("train", "bell")
    first = procedural.load(ids[0], 16000, 1.0)
    assert first.tobytes() == procedural.load(ids[0], 16000, 1.0).tobytes()
    assert first.tobytes() == ProceduralBank(seed=3).load(ids[0], 16000, 1.0).tobytes()
    assert not np.allclose(first, procedural.load(ids[1], 16000, 1.0))
    assert not np.allclose(first, ProceduralBank(seed=4).load(ids[0], 16000, 1.0))


def test_procedural_splits_are_disjoint_with_right_counts():
    bank = ProceduralBank(clips_per_split={"train": 5, "validation": 2, "test": 3})
    for class_name in bank.classes:
        ids = {split: bank.clip_ids(split, class_name) for split in SPLITS}
        assert [len(ids[s]) for s in SPLITS] == [5, 2, 3]
        assert len(set().union(*ids.values())) == 10
        assert ids["train"][2] == f"procedural/{class_name}/train/0002"
    # clips with the same index in different splits differ
    train_clip = bank.load("procedural/hum/train/0000", 16000, 0.5)
    assert not np.allclose(train_clip, bank.load("procedural/hum/test/0000", 16000, 0.5))


@pytest.mark.parametrize("call", [
    lambda b: b.clip_ids("dev", "bell"),
    lambda b: b.clip_ids("train", "violin"),
    lambda b: b.load("procedural/violin/train/0000", 16000, 1.0),
    lambda b: b.load("procedural/bell/train/0016", 16000, 1.0),   # index out of range
    lambda b: b.load("procedural/bell/train/1", 16000, 1.0),      # malformed index
    lambda b: b.load("folder/bell/x.wav", 16000, 1.0),
    lambda b: b.load("procedural/bell/train/0000", 16000, 0.0),
])
def test_procedural_rejects_unknown_arguments(procedural, call):
    with pytest.raises(ValueError):
        call(procedural)


def test_procedural_classes_are_acoustically_distinct(procedural):
    """Nearest-centroid classifier on log band energies separates the classes."""
    sample_rate = 16000

    def features(split):
        return {c: np.stack([band_features(procedural.load(i, sample_rate, 1.5), sample_rate)
                             for i in procedural.clip_ids(split, c)]) for c in procedural.classes}

    accuracy = nearest_centroid_accuracy(features("train"), features("test"),
                                         procedural.classes)
    assert accuracy >= 0.8, f"accuracy {accuracy:.2f}"


def test_procedural_round_trips_through_dict():
    bank = ProceduralBank(seed=7, clips_per_split={"train": 2, "validation": 1, "test": 1})
    rebuilt = bank_from_dict(bank.to_dict())
    assert isinstance(rebuilt, ProceduralBank) and rebuilt.clips_per_split == bank.clips_per_split
    clip_id = bank.clip_ids("test", "vowel")[0]
    assert rebuilt.load(clip_id, 8000, 0.5).tobytes() == bank.load(clip_id, 8000, 0.5).tobytes()


def test_rms_normalise_hits_target():
    x = np.random.default_rng(0).standard_normal(1000) * 0.001
    assert abs(rms_dbfs(rms_normalise(x)) - TARGET_RMS_DBFS) < 1e-3
    assert abs(rms_dbfs(rms_normalise(x, -12.0)) + 12.0) < 1e-3
    with pytest.warns(UserWarning, match="silent"):
        assert not np.any(rms_normalise(np.zeros(10)))


# --------------------------------------------------------------------------- folder


def write_class(folder, class_name, freq_hz, count, start=0):
    (folder / class_name).mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        fmt = "flac" if i % 2 else "wav"
        path = folder / class_name / f"clip{i:02d}.{fmt}"
        sf.write(path, tone(freq_hz * (1 + 0.01 * i), 0.5), FILE_RATE)


@pytest.fixture()
def audio_tree(tmp_path):
    root = tmp_path / "sounds"
    write_class(root, "alpha", 440.0, 4)
    write_class(root, "beta", 1000.0, 5)
    write_class(root, "gamma", 220.0, 3)
    (root / "gamma" / "nested").mkdir()
    stereo = np.stack([tone(300.0, 0.4), tone(600.0, 0.4, level=0.2)], axis=1)
    sf.write(root / "gamma" / "nested" / "stereo.wav", stereo, FILE_RATE)
    (root / "beta" / "broken.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    sf.write(root / "alpha" / "zeros.wav", np.zeros(FILE_RATE // 4, np.float32), FILE_RATE)
    (root / "alpha" / "notes.txt").write_text("not audio")
    return root


def make_folder_bank(root, **kwargs):
    with pytest.warns(UserWarning) as record:
        bank = FolderBank(root, **kwargs)
    return bank, [str(w.message) for w in record]


def test_folder_skips_corrupt_and_silent_files(audio_tree):
    bank, messages = make_folder_bank(audio_tree)
    assert bank.skipped == {"corrupt": 1, "silent": 1}
    assert any("broken.wav" in m and "corrupt" in m for m in messages)
    assert any("zeros.wav" in m and "silent" in m for m in messages)
    assert bank.classes == ("alpha", "beta", "gamma")
    all_ids = [i for s in SPLITS for c in bank.classes for i in bank.clip_ids(s, c)]
    assert len(all_ids) == len(set(all_ids)) == 4 + 5 + 4
    assert "folder/gamma/nested/stereo.wav" in all_ids
    assert not any(i.endswith(("broken.wav", "zeros.wav", "notes.txt")) for i in all_ids)
    for class_name in bank.classes:      # every split non-empty for classes with >= 3 clips
        assert all(bank.clip_ids(split, class_name) for split in SPLITS)


def test_folder_loads_resampled_clips_of_exact_length(audio_tree):
    bank, _ = make_folder_bank(audio_tree)
    for split in SPLITS:
        for clip_id in bank.clip_ids(split, "gamma"):
            clip = bank.load(clip_id, 16000, 0.75)     # longer than the files: zero-padded
            assert clip.shape == (12000,) and clip.dtype == np.float32
            assert abs(rms_dbfs(clip) - TARGET_RMS_DBFS) < 0.1
            assert not np.any(clip[9000:])
    stereo = bank.load("folder/gamma/nested/stereo.wav", 16000, 0.2)
    assert stereo.shape == (3200,)
    spectrum = np.abs(np.fft.rfft(stereo))        # 5 Hz bins: both channels kept by the downmix
    assert spectrum[600 // 5] > 0.5 * spectrum[300 // 5] > 0.5 * spectrum.mean()
    with pytest.raises(ValueError):
        bank.load("folder/gamma/missing.wav", 16000, 0.2)


def test_folder_resampling_keeps_pitch(tmp_path):
    root = tmp_path / "tones"
    (root / "a440").mkdir(parents=True)
    for i in range(3):
        sf.write(root / "a440" / f"t{i}.wav", tone(440.0, 1.0), FILE_RATE)
    bank = FolderBank(root)
    clip = bank.load(bank.clip_ids("train", "a440")[0], 16000, 1.0)
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(clip.size)))
    assert abs(np.fft.rfftfreq(clip.size, 1 / 16000)[np.argmax(spectrum)] - 440.0) <= 1.0


def test_folder_split_assignment_is_stable_when_files_are_added(tmp_path):
    root = tmp_path / "grow"
    write_class(root, "many", 500.0, 30)
    write_class(root, "few", 700.0, 3)
    before = FolderBank(root)
    split_before = {i: s for s in SPLITS for c in before.classes for i in before.clip_ids(s, c)}
    assert {s for i, s in split_before.items() if "/many/" in i} == set(SPLITS)
    write_class(root, "many", 500.0, 10, start=30)
    after = FolderBank(root)
    split_after = {i: s for s in SPLITS for c in after.classes for i in after.clip_ids(s, c)}
    assert len(split_after) == len(split_before) + 10
    assert all(split_after[i] == s for i, s in split_before.items())


def test_folder_drops_small_classes_and_rejects_bad_roots(tmp_path):
    root = tmp_path / "tree"
    write_class(root, "ok", 500.0, 3)
    write_class(root, "tiny", 500.0, 2)
    with pytest.warns(UserWarning, match="tiny"):
        bank = FolderBank(root)
    assert bank.classes == ("ok",)
    with pytest.raises(ValueError, match="root"):
        FolderBank(tmp_path / "missing")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="no usable class"), \
            pytest.warns(UserWarning, match="'cls' dropped"):
        FolderBank(tmp_path / "empty")
    with pytest.raises(ValueError, match="split_fractions"):
        FolderBank(root, split_fractions=(0.5, 0.5, 0.5))


def test_folder_round_trips_through_dict(audio_tree):
    bank, _ = make_folder_bank(audio_tree, extensions=["wav", ".FLAC"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rebuilt = bank_from_dict(bank.to_dict())
    assert isinstance(rebuilt, FolderBank) and rebuilt.classes == bank.classes
    for class_name in bank.classes:
        assert rebuilt.clip_ids("test", class_name) == bank.clip_ids("test", class_name)
    clip_id = bank.clip_ids("train", "beta")[0]
    assert rebuilt.load(clip_id, 22050, 0.3).tobytes() == bank.load(clip_id, 22050, 0.3).tobytes()


# --------------------------------------------------------------------------- dataset


@pytest.fixture()
def audio_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    paths, labels = [], []
    for label, freq_hz in enumerate([330.0, 660.0]):
        for i in range(4):
            path = tmp_path / f"c{label}_{i}.wav"
            sf.write(path, tone(freq_hz, 0.3, 22050), 22050)
            paths.append(str(path))
            labels.append(label)
    silent, broken = tmp_path / "silent.wav", tmp_path / "broken.wav"
    sf.write(silent, np.zeros(2205, np.float32), 22050)
    broken.write_bytes(np.random.default_rng(1).bytes(2000))
    paths += [str(silent), str(broken)]
    labels += [1, 0]
    features = datasets.Features({"audio": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["low", "high"])})
    dataset = datasets.Dataset.from_dict({"audio": paths, "label": labels}, features=features)
    return dataset.cast_column("audio", datasets.Audio(sampling_rate=None))


def test_dataset_bank_loads_clips_and_skips_silent_rows(audio_dataset):
    with pytest.warns(UserWarning, match="row 8: silent"), \
            pytest.warns(UserWarning, match="row 9: corrupt"):
        bank = DatasetBank(audio_dataset, name="toy")
    assert bank.skipped == {"corrupt": 1, "silent": 1}
    assert bank.classes == ("high", "low")
    ids = {s: bank.clip_ids(s, "high") for s in SPLITS}
    assert sorted(i for s in SPLITS for i in ids[s]) == [f"toy/high/{r}" for r in range(4, 8)]
    assert all(ids.values())
    clip = bank.load(ids["train"][0], 16000, 0.5)
    assert clip.shape == (8000,) and clip.dtype == np.float32
    assert abs(rms_dbfs(clip) - TARGET_RMS_DBFS) < 0.1
    spectrum = np.abs(np.fft.rfft(clip[:4800]))
    assert abs(np.argmax(spectrum) * 16000 / 4800 - 660.0) < 5.0
    with pytest.raises(ValueError, match="dataset bank"):
        bank_from_dict(bank.to_dict())


def test_dataset_bank_accepts_decoded_dicts_and_string_labels():
    datasets = pytest.importorskip("datasets")
    rows = [{"sound": {"array": tone(200.0 * (1 + i % 3), 0.2, 8000), "sampling_rate": 8000},
             "kind": "ab"[i % 2]} for i in range(6)]
    bank = DatasetBank(datasets.Dataset.from_list(rows), audio_column="sound", label_column="kind")
    assert bank.classes == ("a", "b")
    assert bank.load(bank.clip_ids("test", "b")[0], 16000, 0.3).shape == (4800,)


def test_dataset_bank_names_missing_columns(audio_dataset):
    with pytest.raises(ValueError, match="'wave'"):
        DatasetBank(audio_dataset, audio_column="wave")
    with pytest.raises(ValueError, match="'category'"):
        DatasetBank(audio_dataset, label_column="category")


def test_as_bank_takes_banks_names_or_none():
    from sarl_hf.sources import as_bank, bank_from_name, default_bank_name

    bank = ProceduralBank(seed=2)
    assert as_bank(bank) is bank
    assert as_bank(None, seed=5).to_dict() == ProceduralBank(seed=5).to_dict()
    assert as_bank("procedural", seed=1).to_dict() == ProceduralBank(seed=1).to_dict()
    with pytest.raises(TypeError, match="SourceBank"):
        as_bank(3)
    with pytest.raises(ValueError, match="sources must be one of"):
        as_bank("fm")
    assert default_bank_name() in ("gm", "procedural")
    if default_bank_name() == "procedural":
        assert bank_from_name("auto").name == "procedural"
