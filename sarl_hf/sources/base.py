"""Dry source banks: the common interface, constants and level normalisation."""

from __future__ import annotations

import abc
import math
import warnings

import numpy as np

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

