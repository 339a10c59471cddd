"""Banks over stored clips: a folder of audio files and a ``datasets`` audio dataset.

Every clip is read once when the bank is built; a corrupt or silent clip is skipped with a
warning and counted in ``skipped``. Splits come from a hash of each clip's key, so a clip
keeps its split when clips are added.
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

from ..splits import SPLITS
from .banks import register_bank
from .base import SourceBank, clip_length
from .loudness import is_silent, rms_normalise

DEFAULT_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif",
                      ".aifc", ".au", ".caf", ".w64", ".rf64")
#: Errors a decoder raises for an unreadable file (soundfile and torchcodec raise RuntimeError).
DECODE_ERRORS = (RuntimeError, ValueError, OSError, EOFError)


def _unusable_reason(audio: np.ndarray) -> str | None:
    """'corrupt' if ``audio`` (channels, samples) is non-finite, 'silent' if silent, else None."""
    if audio.size and not np.all(np.isfinite(audio)):
        return "corrupt"
    if is_silent(audio):
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
        except DECODE_ERRORS as error:
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
        n_samples = clip_length(sample_rate, duration_s)
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



def _rebuild_folder(d: Mapping[str, Any]) -> FolderBank:
    if "root" not in d:
        raise ValueError("bank dict of kind 'folder' needs a 'root' entry")
    return FolderBank(d["root"], split_fractions=d.get("split_fractions", (0.8, 0.1, 0.1)),
                      extensions=d.get("extensions"))


register_bank("folder", build=lambda argument, seed: FolderBank(argument),
              rebuild=_rebuild_folder, usage="folder:PATH")
register_bank("dataset", no_rebuild="bank {name!r} is a dataset bank and cannot be rebuilt "
              "from a dict: pass the DatasetBank object (wrapping the dataset) instead")
