"""Dry (anechoic) mono source banks organised by class and split.

:class:`ProceduralBank` synthesises clips (recipes in :mod:`sarl_hf.sources.recipes`),
:class:`FolderBank` reads ``root/<class>/**`` audio files and :class:`DatasetBank` wraps a
map-style :class:`datasets.Dataset`. Clips are RMS-normalised to :data:`TARGET_RMS_DBFS` so
level never leaks the class.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import (SILENT_PEAK, SILENT_RMS_DBFS, SPLITS, TARGET_RMS_DBFS, SourceBank,
                   rms_normalise)
from .procedural import ProceduralBank
from .stored import DatasetBank, FolderBank, decode_audio_value

__all__ = ["SPLITS", "TARGET_RMS_DBFS", "SILENT_PEAK", "SILENT_RMS_DBFS", "SourceBank",
           "ProceduralBank", "FolderBank", "DatasetBank", "bank_from_dict", "rms_normalise",
           "decode_audio_value", "bank_from_name", "BANK_NAMES"]

#: What ``bank_from_name`` understands (``folder:PATH`` takes a path).
BANK_NAMES = ("procedural", "folder:PATH")


def bank_from_name(name: str, seed: int = 0) -> SourceBank:
    """The bank a command line names: ``procedural`` or ``folder:PATH``.

    ``seed`` seeds banks that synthesise their clips. ValueError for an unknown name.
    """
    if name == "procedural":
        return ProceduralBank(seed=seed)
    if name.startswith("folder:"):
        return FolderBank(name[len("folder:"):])
    raise ValueError(f"sources must be one of {', '.join(BANK_NAMES)}, got {name!r}")


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
