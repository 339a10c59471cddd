"""Dry source banks: the common interface and the checks every bank shares."""

from __future__ import annotations

import abc
from typing import Mapping

import numpy as np

from ..checks import check_integer, check_number
from ..splits import SPLITS

DEFAULT_CLIPS_PER_SPLIT = (("train", 16), ("validation", 4), ("test", 4))
#: Sample rates (Hz) every stage accepts: clips, scenes, corpora, encoder inputs.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
#: Shortest scene or clip (s): shorter ones hold too few samples to mean anything.
MIN_DURATION_S = 0.1


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int; ValueError unless it is a non-negative integer."""
    return check_integer(name, seed, 0)


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """``sample_rate`` as an int (Hz) in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE], else ValueError."""
    return check_integer(f"{name} (Hz)", sample_rate, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)


def check_duration(duration_s, name: str = "duration_s") -> float:
    """``duration_s`` as a float: finite and at least MIN_DURATION_S seconds, else
    ValueError (what would not fit in memory is refused where it is rendered)."""
    return check_number(name, duration_s, MIN_DURATION_S)


def clip_length(sample_rate: int, duration_s: float) -> int:
    """Validated output length ``round(duration_s * sample_rate)`` in samples."""
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    check_number("duration_s", duration_s)
    if not round(duration_s * sample_rate) >= 1:
        raise ValueError(f"duration_s must give at least one sample, got {duration_s!r}")
    return int(round(duration_s * sample_rate))


def clip_counts(clips_per_split: Mapping[str, int] | None) -> dict[str, int]:
    """Validated clips per class and split: the defaults updated by ``clips_per_split``."""
    counts = dict(DEFAULT_CLIPS_PER_SPLIT)
    for split, count in dict(clips_per_split or {}).items():
        if split not in SPLITS:
            raise ValueError(f"clips_per_split has unknown split {split!r}; use {SPLITS}")
        if int(count) != count or count < 0:
            raise ValueError(f"clips_per_split[{split!r}] must be a non-negative integer, "
                             f"got {count!r}")
        counts[split] = int(count)
    return counts


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
        :data:`TARGET_RMS_DBFS` dBFS (banks of recorded timbres, such as ``gm``:
        integrated loudness :data:`TARGET_LOUDNESS_LUFS`); identical bytes for identical
        arguments.
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
