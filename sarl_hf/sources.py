"""Dry (anechoic) mono source banks organised by class and split.

:class:`ProceduralBank` synthesises clips (recipes in :mod:`sarl_hf.sources_procedural`),
:class:`FolderBank` reads ``root/<class>/**`` audio files and :class:`DatasetBank` wraps a
map-style :class:`datasets.Dataset`.  Clips are RMS-normalised to :data:`TARGET_RMS_DBFS` so
level never leaks the class; file/dataset splits come from a hash of each clip's key, so a
clip keeps its split when clips are added.
"""

from __future__ import annotations

import abc
import hashlib
import io
import math
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import soundfile as sf
from scipy import signal

from sarl_hf.sources_procedural import RECIPES, synthesise

__all__ = ["SPLITS", "TARGET_RMS_DBFS", "SourceBank", "ProceduralBank", "FolderBank",
           "DatasetBank", "bank_from_dict", "rms_normalise", "decode_audio_value"]

SPLITS = ("train", "validation", "test")
TARGET_RMS_DBFS = -26.0
#: A clip whose peak is below this (linear, full scale 1.0) counts as silent.
SILENT_PEAK = 1e-5
#: A clip whose RMS is below this (dBFS) counts as silent.
SILENT_RMS_DBFS = -80.0
DEFAULT_CLIPS_PER_SPLIT = (("train", 16), ("validation", 4), ("test", 4))
DEFAULT_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif",
                      ".aifc", ".au", ".caf", ".w64", ".rf64")
#: Errors a decoder raises for an unreadable file (soundfile and torchcodec raise RuntimeError).
_DECODE_ERRORS = (RuntimeError, ValueError, OSError, EOFError)


def _rms_dbfs(x: np.ndarray) -> float:
    """RMS level of ``x`` (any shape) in dBFS (-inf for all zeros or empty)."""
    rms = math.sqrt(float(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20.0 * math.log10(rms) if rms > 0.0 else -math.inf


def rms_normalise(x: np.ndarray, target_dbfs: float = TARGET_RMS_DBFS) -> np.ndarray:
    """Scale a signal to a target RMS level.

    Parameters
    ----------
    x : np.ndarray
        (samples,) signal, full scale 1.0.
    target_dbfs : float
        Target RMS level in dBFS.

    Returns
    -------
    np.ndarray
        (samples,) float32 signal with RMS ``target_dbfs`` dBFS; an all-zero
        input is returned unscaled (as float32) with a warning.
    """
    level_dbfs = _rms_dbfs(x)
    if not math.isfinite(level_dbfs):
        warnings.warn("rms_normalise: x is silent (RMS 0); returned unscaled", stacklevel=2)
        return np.asarray(x, dtype=np.float32)
    gain = 10.0 ** ((target_dbfs - level_dbfs) / 20.0)
    return (np.asarray(x, dtype=np.float64) * gain).astype(np.float32)


def _n_samples(sample_rate: int, duration_s: float) -> int:
    """Validated output length ``round(duration_s * sample_rate)`` in samples."""
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    if not round(duration_s * sample_rate) >= 1:
        raise ValueError(f"duration_s must give at least one sample, got {duration_s!r}")
    return int(round(duration_s * sample_rate))


def _unusable_reason(audio: np.ndarray) -> str | None:
    """'corrupt' if ``audio`` (channels, samples) is non-finite, 'silent' if silent, else None."""
    if audio.size and not np.all(np.isfinite(audio)):
        return "corrupt"
    if audio.size == 0 or np.max(np.abs(audio)) < SILENT_PEAK or _rms_dbfs(audio) < SILENT_RMS_DBFS:
        return "silent"
    return None


def _fit_to_length(audio: np.ndarray, source_rate: int, sample_rate: int,
                   n_samples: int) -> np.ndarray:
    """Downmix, resample, crop / zero-pad and normalise decoded audio.

    ``audio`` (channels, samples) at ``source_rate`` Hz becomes a (n_samples,)
    float32 mono clip at ``sample_rate`` Hz with RMS :data:`TARGET_RMS_DBFS`.
    """
    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    # Crop before resampling, with a margin so the filter edge stays outside the output.
    mono = mono[: int(math.ceil(n_samples * source_rate / sample_rate)) + 256]
    if source_rate != sample_rate:
        common = math.gcd(sample_rate, source_rate)
        mono = signal.resample_poly(mono, sample_rate // common, source_rate // common)
    mono = np.pad(mono[:n_samples], (0, max(0, n_samples - mono.size)))
    return rms_normalise(mono)


def _check_split_fractions(split_fractions: Iterable[float]) -> tuple[float, float, float]:
    """Validate three positive (train, validation, test) fractions summing to 1."""
    fractions = tuple(float(f) for f in split_fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split_fractions must be three positive numbers summing to 1 "
                         f"(train, validation, test), got {split_fractions!r}")
    return fractions


def _hash_unit(key: str) -> float:
    """Stable pseudo-uniform number in [0, 1) from the sha1 of ``key``."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:15], 16) / 16 ** 15


def _assign_splits(keys: list[str], fractions: tuple[float, float, float]) -> dict[str, str]:
    """Assign the keys of one class (at least 3) to splits.

    A key's split depends only on its sha1 compared with the cumulative
    ``fractions``, so adding keys never moves existing ones.  Only if a split
    would be empty (small classes) is the key whose hash lies nearest that
    split's interval borrowed from the largest split.
    """
    edges = np.concatenate([[0.0], np.cumsum(fractions)])
    units = {key: _hash_unit(key) for key in keys}
    assigned = {key: SPLITS[min(2, int(np.searchsorted(edges, u, side="right")) - 1)]
                for key, u in units.items()}
    for split_index, split in enumerate(SPLITS):
        if split not in assigned.values():
            donor = max(SPLITS, key=list(assigned.values()).count)
            centre = 0.5 * (edges[split_index] + edges[split_index + 1])
            borrowed = min((k for k in keys if assigned[k] == donor),
                           key=lambda k: (abs(units[k] - centre), k))
            assigned[borrowed] = split
    return assigned


class SourceBank(abc.ABC):
    """A bank of dry (anechoic) mono source clips organised by class and split."""

    name: str  # e.g. "procedural", "folder", "dataset"; first part of every clip id

    @property
    @abc.abstractmethod
    def classes(self) -> tuple[str, ...]:
        """Sorted class names."""

    @abc.abstractmethod
    def clip_ids(self, split: str, class_name: str) -> list[str]:
        """Clip ids of one class in one split, in a deterministic order.

        Ids of different splits are disjoint; ValueError for an unknown split or class.
        """

    @abc.abstractmethod
    def load(self, clip_id: str, sample_rate: int, duration_s: float) -> np.ndarray:
        """Load clip ``clip_id`` (ValueError if unknown) at ``sample_rate`` Hz for ``duration_s`` s.

        Returns a (round(duration_s * sample_rate),) float32 mono clip with RMS
        :data:`TARGET_RMS_DBFS` dBFS; identical bytes for identical arguments.
        """

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """Parameters to rebuild the bank with :func:`bank_from_dict`."""

    def _check_split_and_class(self, split: str, class_name: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if class_name not in self.classes:
            raise ValueError(f"class_name {class_name!r} is not in bank {self.name!r}; "
                             f"classes are {self.classes}")


class ProceduralBank(SourceBank):
    """Procedurally synthesised clips, deterministic by seed, at any rate >= 8 kHz.

    Parameters
    ----------
    seed : int
        Bank seed (non-negative).
    clips_per_split : Mapping[str, int], optional
        Clips per class in each split; missing splits keep the defaults
        (train 16, validation 4, test 4).
    """

    name = "procedural"

    def __init__(self, seed: int = 0, clips_per_split: Mapping[str, int] | None = None):
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        counts = dict(DEFAULT_CLIPS_PER_SPLIT)
        for split, count in dict(clips_per_split or {}).items():
            if split not in SPLITS:
                raise ValueError(f"clips_per_split has unknown split {split!r}; use {SPLITS}")
            if int(count) != count or count < 0:
                raise ValueError(f"clips_per_split[{split!r}] must be a non-negative integer, "
                                 f"got {count!r}")
            counts[split] = int(count)
        self.seed = int(seed)
        self.clips_per_split = counts

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(RECIPES))

    def clip_ids(self, split: str, class_name: str) -> list[str]:
        self._check_split_and_class(split, class_name)
        return [f"procedural/{class_name}/{split}/{index:04d}"
                for index in range(self.clips_per_split[split])]

    def _parse(self, clip_id: str) -> tuple[str, str, int]:
        """(class, split, index) of a clip id of this bank, else ValueError."""
        parts = clip_id.split("/") if isinstance(clip_id, str) else []
        if (len(parts) == 4 and parts[1] in RECIPES and parts[2] in SPLITS and parts[3].isdigit()
                and int(parts[3]) < self.clips_per_split[parts[2]]
                and clip_id == f"procedural/{parts[1]}/{parts[2]}/{int(parts[3]):04d}"):
            return parts[1], parts[2], int(parts[3])
        raise ValueError(f"clip_id {clip_id!r} is not a clip of this procedural bank")

    def load(self, clip_id: str, sample_rate: int, duration_s: float) -> np.ndarray:
        class_name, split, index = self._parse(clip_id)
        n_samples = _n_samples(sample_rate, duration_s)
        if sample_rate < 8000:
            raise ValueError(f"sample_rate must be at least 8000 Hz for procedural clips, "
                             f"got {sample_rate}")
        class_key = int(hashlib.sha1(class_name.encode("utf-8")).hexdigest()[:8], 16)
        seed_seq = np.random.SeedSequence([self.seed, class_key, SPLITS.index(split), index])
        rng = np.random.default_rng(seed_seq)
        return rms_normalise(synthesise(class_name, rng, n_samples, int(sample_rate)))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": "procedural", "seed": self.seed,
                "clips_per_split": dict(self.clips_per_split)}


class _IndexedBank(SourceBank):
    """Shared logic of banks over stored clips that are validated once and hash-split.

    Attributes
    ----------
    skipped : dict
        ``{"corrupt": n, "silent": n}`` clips skipped on construction.
    """

    def __init__(self, split_fractions: Iterable[float]):
        self.split_fractions = _check_split_fractions(split_fractions)
        self.skipped = {"corrupt": 0, "silent": 0}
        self._split_of: dict[str, str] = {}   # clip id -> split
        self._class_of: dict[str, str] = {}   # clip id -> class
        self._location: dict[str, Any] = {}   # clip id -> path or row index

    @abc.abstractmethod
    def _decode(self, location: Any) -> tuple[np.ndarray, int]:
        """(channels, samples) float32 audio at a location, and its sample rate in Hz."""

    def _is_usable(self, location: Any, what: str) -> bool:
        """Decode a clip once; warn, count and return False if it is corrupt or silent."""
        try:
            reason, detail = _unusable_reason(self._decode(location)[0]), ""
        except _DECODE_ERRORS as error:
            reason, detail = "corrupt", f" ({type(error).__name__}: {error})"
        if reason is not None:
            self.skipped[reason] += 1
            warnings.warn(f"{self.name}: skipping {what}: {reason}{detail}", stacklevel=3)
        return reason is None

    def _index(self, entries_by_class: Mapping[str, list[tuple[str, Any, str]]]) -> None:
        """Split and register usable clips.

        ``entries_by_class[class]`` lists ``(clip_id, location, hash_key)``;
        ``hash_key`` (relative path or row index string) decides the split.
        """
        for class_name, entries in sorted(entries_by_class.items()):
            if len(entries) < 3:
                warnings.warn(f"{self.name}: class {class_name!r} dropped: only {len(entries)} "
                              f"usable clip(s), need at least 3 (one per split)", stacklevel=3)
                continue
            split_of_key = _assign_splits([key for _, _, key in entries], self.split_fractions)
            for clip_id, location, key in entries:
                self._split_of[clip_id], self._class_of[clip_id] = split_of_key[key], class_name
                self._location[clip_id] = location
        if not self._class_of:
            raise ValueError(f"{self.name}: no usable class (each needs at least 3 usable clips)")

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self._class_of.values())))

    def clip_ids(self, split: str, class_name: str) -> list[str]:
        self._check_split_and_class(split, class_name)
        return sorted((clip for clip, cls in self._class_of.items()
                       if cls == class_name and self._split_of[clip] == split),
                      key=self._location.get)

    def split_of(self, clip_id: str) -> str:
        """Split name of a clip id (ValueError if unknown)."""
        self._check_clip_id(clip_id)
        return self._split_of[clip_id]

    def _check_clip_id(self, clip_id: str) -> None:
        if clip_id not in self._class_of:
            raise ValueError(f"clip_id {clip_id!r} is not a clip of bank {self.name!r}")

    def load(self, clip_id: str, sample_rate: int, duration_s: float) -> np.ndarray:
        self._check_clip_id(clip_id)
        n_samples = _n_samples(sample_rate, duration_s)
        audio, source_rate = self._decode(self._location[clip_id])
        return _fit_to_length(audio, int(source_rate), int(sample_rate), n_samples)


class FolderBank(_IndexedBank):
    """Audio files under ``root/<class>/**`` (any format soundfile reads).

    Parameters
    ----------
    root : str or Path
        Folder whose first-level sub-folders are the classes.
    split_fractions : tuple of 3 float
        Target (train, validation, test) fractions per class.
    extensions : iterable of str, optional
        File suffixes to consider (case-insensitive); default :data:`DEFAULT_EXTENSIONS`.
    """

    name = "folder"

    def __init__(self, root: str | Path, split_fractions: Iterable[float] = (0.8, 0.1, 0.1),
                 extensions: Iterable[str] | None = None):
        super().__init__(split_fractions)
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"root {str(root)!r} does not exist or is not a folder")
        self.extensions = None if extensions is None else tuple(
            sorted({"." + e.lower().lstrip(".") for e in extensions}))
        suffixes = self.extensions or DEFAULT_EXTENSIONS
        entries_by_class = {}
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name[0] != ".")
        for class_dir in class_dirs:
            files = sorted(p for p in class_dir.rglob("*")
                           if p.is_file() and p.suffix.lower() in suffixes)
            entries_by_class[class_dir.name] = [
                (f"folder/{class_dir.name}/{path.relative_to(class_dir).as_posix()}", path,
                 path.relative_to(self.root).as_posix())
                for path in files if self._is_usable(path, str(path))]
        self._index(entries_by_class)

    def _decode(self, location: Path) -> tuple[np.ndarray, int]:
        audio, source_rate = sf.read(str(location), dtype="float32", always_2d=True)
        return audio.T, int(source_rate)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": "folder", "root": str(self.root),
                "split_fractions": list(self.split_fractions),
                "extensions": None if self.extensions is None else list(self.extensions)}


def decode_audio_value(value: Any) -> tuple[np.ndarray, int]:
    """Decode a ``datasets`` Audio value to ((channels, samples) float32, sample rate in Hz).

    ``value`` is a torchcodec ``AudioDecoder`` (datasets >= 4), a decoded dict
    ``{"array", "sampling_rate"}`` (older datasets) or an undecoded dict with
    ``"bytes"`` or ``"path"``.
    """
    if hasattr(value, "get_all_samples"):
        samples = value.get_all_samples()
        audio = np.atleast_2d(samples.data.detach().cpu().numpy()).astype(np.float32)
        return audio, int(samples.sample_rate)
    if isinstance(value, Mapping) and value.get("array") is not None:
        audio = np.asarray(value["array"], dtype=np.float32)
        return (audio[None, :] if audio.ndim == 1 else audio), int(value["sampling_rate"])
    if isinstance(value, Mapping) and (value.get("bytes") or value.get("path")):
        source = io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"]
        audio, source_rate = sf.read(source, dtype="float32", always_2d=True)
        return audio.T, int(source_rate)
    raise ValueError(f"cannot decode audio value of type {type(value).__name__}")


class DatasetBank(_IndexedBank):
    """Clips from a map-style Hugging Face :class:`datasets.Dataset`.

    Parameters
    ----------
    dataset : datasets.Dataset
        Map-style dataset with an audio column and a label column.
    audio_column, label_column : str
        Column names.  Class names come from a ``ClassLabel`` feature, else
        from the sorted unique non-null values of the label column (as str);
        rows with a missing label (None or -1) are ignored.
    name : str
        Bank name, first part of every clip id ``"<name>/<class>/<row index>"``.
    split_fractions : tuple of 3 float
        Target (train, validation, test) fractions per class.
    """

    def __init__(self, dataset: Any, audio_column: str = "audio", label_column: str = "label",
                 name: str = "dataset", split_fractions: Iterable[float] = (0.8, 0.1, 0.1)):
        self.name = name
        super().__init__(split_fractions)
        if not hasattr(dataset, "select_columns") or not hasattr(dataset, "__len__"):
            raise ValueError("dataset must be a map-style datasets.Dataset, not an IterableDataset")
        for argument, column in (("audio_column", audio_column), ("label_column", label_column)):
            if column not in dataset.column_names:
                raise ValueError(f"{argument} {column!r} is not a column of the dataset; "
                                 f"columns are {dataset.column_names}")
        self.audio_column, self.label_column = audio_column, label_column
        self._audio = dataset.select_columns([audio_column])
        self._num_rows = len(dataset)
        names = getattr(dataset.features[label_column], "names", None)
        values = list(dataset[label_column])
        labels = ([None if v is None else str(v) for v in values] if names is None else
                  [names[v] if v is not None and 0 <= v < len(names) else None for v in values])
        entries_by_class = {label: [] for label in (names or labels) if label is not None}
        for row, label in enumerate(labels):
            if label is not None and self._is_usable(row, f"row {row}"):
                entries_by_class[label].append((f"{name}/{label}/{row}", row, str(row)))
        self._index(entries_by_class)

    def _decode(self, location: int) -> tuple[np.ndarray, int]:
        return decode_audio_value(self._audio[int(location)][self.audio_column])

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": "dataset", "audio_column": self.audio_column,
                "label_column": self.label_column, "split_fractions": list(self.split_fractions),
                "num_rows": self._num_rows}


def bank_from_dict(d: Mapping[str, Any]) -> SourceBank:
    """Rebuild a procedural or folder bank from its :meth:`SourceBank.to_dict`.

    A dataset bank cannot be rebuilt from a dict (it wraps a live dataset
    object); a ValueError says to pass the :class:`DatasetBank` itself.
    """
    kind = d.get("kind", d.get("name"))
    if kind == "procedural":
        return ProceduralBank(seed=d.get("seed", 0), clips_per_split=d.get("clips_per_split"))
    if kind == "folder":
        if "root" not in d:
            raise ValueError("bank dict of kind 'folder' needs a 'root' entry")
        return FolderBank(d["root"], split_fractions=d.get("split_fractions", (0.8, 0.1, 0.1)),
                          extensions=d.get("extensions"))
    if kind == "dataset":
        raise ValueError(f"bank {d.get('name')!r} is a dataset bank and cannot be rebuilt from "
                         f"a dict: pass the DatasetBank object (wrapping the dataset) instead")
    raise ValueError(f"bank dict has unknown kind {kind!r}; expected 'procedural' or 'folder'")
