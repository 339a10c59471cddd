"""Dry (anechoic) mono source banks organised by class and split.

:class:`ProceduralBank` synthesises clips (recipes in :mod:`sarl_hf.sources.recipes`),
:class:`GMBank` renders General MIDI instruments and espeak-ng speech once into a cache
(:mod:`sarl_hf.sources.gm`), :class:`FolderBank` reads ``root/<class>/**`` audio files and
:class:`DatasetBank` wraps a map-style :class:`datasets.Dataset`. Clips are RMS-normalised
to :data:`TARGET_RMS_DBFS` (the ``gm`` bank: loudness-normalised to
:data:`TARGET_LOUDNESS_LUFS`) so level never leaks the class.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

from .base import (SILENT_PEAK, SILENT_RMS_DBFS, SPLITS, TARGET_LOUDNESS_LUFS, TARGET_RMS_DBFS,
                   SourceBank, integrated_loudness, loudness_normalise, rms_normalise)
from .gm import DEFAULT_CLIP_S, GMBank, MissingSystemDependency, gm_available
from .procedural import ProceduralBank
from .stored import DatasetBank, FolderBank, decode_audio_value

__all__ = ["SPLITS", "TARGET_RMS_DBFS", "SILENT_PEAK", "SILENT_RMS_DBFS", "SourceBank",
           "ProceduralBank", "GMBank", "FolderBank", "DatasetBank", "bank_from_dict",
           "rms_normalise", "loudness_normalise", "integrated_loudness", "TARGET_LOUDNESS_LUFS",
           "decode_audio_value", "bank_from_name", "as_bank", "BANK_NAMES", "default_bank_name",
           "gm_available", "MissingSystemDependency"]

#: What ``bank_from_name`` understands (``folder:PATH`` takes a path; ``auto`` is ``gm``
#: where its Debian packages are installed, else ``procedural``).
BANK_NAMES = ("procedural", "gm", "auto", "folder:PATH")


def default_bank_name() -> str:
    """``"gm"`` if its soundfont, fluidsynth and espeak-ng are installed, else ``"procedural"``."""
    return "gm" if gm_available() else "procedural"


def bank_from_name(name: str, seed: int = 0) -> SourceBank:
    """The bank a command line names: ``procedural``, ``gm`` or ``folder:PATH``.

    ``seed`` seeds banks that synthesise their clips. ValueError for an unknown name;
    :class:`MissingSystemDependency` (a FileNotFoundError saying what to install) for
    ``gm`` without its Debian packages.
    """
    if name == "auto":
        name = default_bank_name()
    if name == "procedural":
        return ProceduralBank(seed=seed)
    if name == "gm":
        return GMBank(seed=seed)
    if name.startswith("folder:"):
        return FolderBank(name[len("folder:"):])
    raise ValueError(f"sources must be one of {', '.join(BANK_NAMES)}, got {name!r}")


def as_bank(bank: SourceBank | str | None, seed: int = 0) -> SourceBank:
    """A bank from a bank, a name (see :func:`bank_from_name`) or None (procedural)."""
    if bank is None:
        return ProceduralBank(seed=seed)
    if isinstance(bank, str):
        return bank_from_name(bank, seed)
    if not isinstance(bank, SourceBank):
        raise TypeError(f"bank must be a SourceBank, a bank name or None, got "
                        f"{type(bank).__name__}")
    return bank


def bank_from_dict(d: Mapping[str, Any]) -> SourceBank:
    """Rebuild a procedural, gm or folder bank from its :meth:`SourceBank.to_dict`.

    A dataset bank cannot be rebuilt from a dict (it wraps a live dataset
    object); a ValueError says to pass the :class:`DatasetBank` itself. A gm bank
    rebuilt with other tool versions (another ``version``) warns: its clips differ.
    """
    kind = d.get("kind", d.get("name"))
    if kind == "procedural":
        return ProceduralBank(seed=d.get("seed", 0), clips_per_split=d.get("clips_per_split"))
    if kind == "gm":
        bank = GMBank(seed=d.get("seed", 0), clips_per_split=d.get("clips_per_split"),
                      clip_s=d.get("clip_s", DEFAULT_CLIP_S))
        if d.get("version") not in (None, bank.version):
            warnings.warn(f"gm bank rebuilt as version {bank.version}, not {d['version']}: "
                          f"other tool versions or soundfont, so its clips differ", stacklevel=2)
        return bank
    if kind == "folder":
        if "root" not in d:
            raise ValueError("bank dict of kind 'folder' needs a 'root' entry")
        return FolderBank(d["root"], split_fractions=d.get("split_fractions", (0.8, 0.1, 0.1)),
                          extensions=d.get("extensions"))
    if kind == "dataset":
        raise ValueError(f"bank {d.get('name')!r} is a dataset bank and cannot be rebuilt from "
                         f"a dict: pass the DatasetBank object (wrapping the dataset) instead")
    raise ValueError(f"bank dict has unknown kind {kind!r}; expected 'procedural', 'gm' "
                     f"or 'folder'")
