"""Sources: the dry (anechoic) mono clips every scene plays, organised by class and split.

Takes a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``), a folder or a
``datasets`` audio dataset; gives a :class:`SourceBank`: ``classes``, ``clip_ids(split,
class)`` (disjoint across splits) and ``load(clip_id, sample_rate, duration_s)`` →
(samples,) float32, normalised so that level never leaks the class, the same bytes for
the same arguments.

:class:`ProceduralBank` synthesises clips (recipes in :mod:`sarl_hf.sources.recipes`),
:class:`GMBank` renders General MIDI instruments and espeak-ng speech once into a cache
(:mod:`sarl_hf.sources.gm`), :class:`FolderBank` reads ``root/<class>/**`` audio files and
:class:`DatasetBank` wraps a map-style :class:`datasets.Dataset`. Clips are RMS-normalised
to :data:`TARGET_RMS_DBFS` (the ``gm`` bank: loudness-normalised to
:data:`TARGET_LOUDNESS_LUFS`). A new kind of bank joins with :func:`register_bank`.
"""

from __future__ import annotations

from .banks import BANKS, as_bank, bank_from_dict, bank_from_name, bank_names, register_bank
from .base import SourceBank
from .loudness import (SILENT_PEAK, SILENT_RMS_DBFS, TARGET_LOUDNESS_LUFS, TARGET_RMS_DBFS,
                       integrated_loudness, loudness_normalise, rms_normalise)

# isort: off
# the built-in kinds register in the order of these imports: procedural, gm and auto,
# folder and dataset (the order bank_names() lists them in)
from .procedural import ProceduralBank
from .gm import GMBank, MissingSystemDependency, default_bank_name, gm_available
from .stored import DatasetBank, FolderBank, decode_audio_value
# isort: on

__all__ = ["SourceBank", "ProceduralBank", "GMBank", "FolderBank", "DatasetBank", "BANKS",
           "register_bank", "bank_names", "bank_from_name", "bank_from_dict", "as_bank",
           "default_bank_name", "gm_available", "MissingSystemDependency", "TARGET_RMS_DBFS",
           "TARGET_LOUDNESS_LUFS", "SILENT_PEAK", "SILENT_RMS_DBFS", "rms_normalise",
           "loudness_normalise", "integrated_loudness", "decode_audio_value"]
