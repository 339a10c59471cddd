"""Procedurally synthesised dry clips, deterministic by seed (recipes in ``recipes``)."""

from __future__ import annotations

import hashlib
from typing import Mapping

import numpy as np

from ..splits import SPLITS
from .banks import register_bank
from .base import SourceBank, check_seed, clip_counts, clip_length
from .loudness import rms_normalise
from .recipes import RECIPES, synthesise


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
        check_seed(seed)
        self.seed = int(seed)
        self.clips_per_split = clip_counts(clips_per_split)

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
        n_samples = clip_length(sample_rate, duration_s)
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



register_bank("procedural", build=lambda argument, seed: ProceduralBank(seed=seed),
              rebuild=lambda d: ProceduralBank(seed=d.get("seed", 0),
                                               clips_per_split=d.get("clips_per_split")))
