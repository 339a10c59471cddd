"""What a corpus holds: the plan (every parameter that decides its bytes), its configs and
the scene specs of each config's splits, in the order they are stored.

Every config holds one channel format, so its ``audio`` column has one channel count:
one config per format (``mono``, ``stereo``, ``binaural``, ``foa``, ``mic4``; the same
single-source scenes in each), and per format a ``multisource_<format>`` config (2–3
simultaneous sources, with per-source labels and a caption) and a
``sensitivity_<format>`` config (one-factor-at-a-time variants of anchor scenes, ``test``
split only); the multisource (sensitivity) configs of different formats hold the same
scenes.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..acoustics.formats import FORMATS, check_formats, format_names
from ..checks import check_integer
from ..errors import ArgumentRequired
from ..files import json_digest
from ..rendering.renderer import MODES
from ..scene.balanced import design
from ..scene.factors import FactorConfig
from ..scene.spec import SceneSpec
from ..scene.variants import sensitivity_design
from ..sources import SourceBank, as_bank
from ..sources.base import check_duration, check_sample_rate, check_seed
from ..splits import SPLITS

#: Kinds of config besides the single-source format configs: ``<kind>_<format>``.
SPECIAL_CONFIGS = ("multisource", "sensitivity")
#: Fraction of a corpus's scenes in the validation and in the test split.
HELD_OUT_FRACTION = 0.2
#: Extra sources in a multisource scene: every other scene has 3 sources, the rest 2.
MULTISOURCE_MAX_SOURCES = 3


def config_names() -> tuple[str, ...]:
    """Every config a corpus can hold: one per channel format, then the special ones
    (``multisource_mono``, ..., ``sensitivity_mic4``)."""
    return format_names() + tuple(special_config(kind, fmt) for kind in SPECIAL_CONFIGS
                                  for fmt in format_names())


def special_config(kind: str, channel_format: str) -> str:
    """The name of the ``kind`` config (``multisource``, ``sensitivity``) of one format."""
    return f"{kind}_{channel_format}"


def parse_config(config: str) -> tuple[str, str]:
    """``(kind, channel_format)`` of a config name: ``("format", "foa")`` for ``foa``,
    ``("multisource", "foa")`` for ``multisource_foa``; ValueError for another name."""
    if config in format_names():
        return "format", config
    kind, _, fmt = str(config).partition("_")
    if kind not in SPECIAL_CONFIGS or fmt not in format_names():
        raise ValueError(f"config must be one of {config_names()}, got {config!r}")
    return kind, fmt


def stored_config(config: str, channel_format: str | None = None) -> str:
    """The config that holds ``config``'s rows of ``channel_format``: ``multisource`` and
    ``stereo`` give ``multisource_stereo``; any other name is returned as it is (for a
    known config, ``channel_format``, when given, must be its format).

    ArgumentRequired (``channel_format``) for a kind without a format.
    """
    if config in SPECIAL_CONFIGS:
        if channel_format not in format_names():
            raise ArgumentRequired(f"config {config!r} holds one config per channel format: "
                                   f"choose one with channel_format from {format_names()}",
                                   "channel_format")
        return special_config(config, channel_format)
    fmt = config_format(config)
    if fmt is not None and channel_format not in (None, fmt):
        raise ValueError(f"config {config!r} holds only {fmt!r} rows, not "
                         f"{channel_format!r}")
    return config


def config_format(config: str) -> str | None:
    """The channel format of a config (``foa`` for ``foa`` and ``sensitivity_foa``), or
    None for a name that is no config."""
    return parse_config(config)[1] if config in config_names() else None


def split_sizes(scenes: int) -> dict:
    """Scenes per split of a corpus of ``scenes``: 60% train, 20% validation, 20% test.

    >>> split_sizes(80)
    {'train': 48, 'validation': 16, 'test': 16}
    """
    if scenes < 0:
        raise ValueError(f"scenes must be >= 0, got {scenes}")
    held_out = int(round(HELD_OUT_FRACTION * scenes))
    return {"train": scenes - 2 * held_out, "validation": held_out, "test": held_out}


def derived_seed(seed: int, name: str) -> int:
    """A seed for a named part of a corpus, so configs do not share random draws."""
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)
    return int(state[0])


def config_specs(config: str, split: str, n: int, seed: int = 0,
                 factors: FactorConfig | None = None, bank: SourceBank | str | None = None,
                 sample_rate: int = 16000, duration_s: float = 4.0) -> list[SceneSpec]:
    """The scene specs of one config and split, in the order they are stored.

    Parameters
    ----------
    config : str
        A config name (:func:`config_names`): a channel format, ``multisource_<format>``
        or ``sensitivity_<format>``.
    split : str
    n : int
        Scenes of this split (anchor scenes for ``sensitivity``, whose only split is
        ``test``).
    seed : int
    factors : FactorConfig, optional
    bank : SourceBank, optional
    sample_rate : int
        Hz.
    duration_s : float

    Returns
    -------
    list of SceneSpec
    """
    kind, fmt = parse_config(config)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 1:
        return []
    kwargs = dict(factors=factors, bank=as_bank(bank, seed), sample_rate=sample_rate,
                  duration_s=duration_s)
    if kind == "format":
        return design(n, split, seed, channel_format=fmt, **kwargs)
    if kind == "sensitivity":
        if split != "test":
            raise ValueError(f"the {config} config has only a 'test' split")
        specs = sensitivity_design(n, derived_seed(seed, kind), split=split,
                                   id_prefix="sensitivity-", **kwargs)
    else:  # the same scenes in every format: the seed is the kind's, not the config's
        specs = design(n, split, derived_seed(seed, kind), id_prefix="multisource-",
                       num_sources=MULTISOURCE_MAX_SOURCES, **kwargs)
        specs = [spec if i % 2 == 0 else _without_last_source(spec)
                 for i, spec in enumerate(specs)]
    return [spec.with_format(fmt) for spec in specs]


def _without_last_source(spec: SceneSpec) -> SceneSpec:
    return replace(spec, sources=spec.sources[:-1])


#: Fewest scenes of a corpus: every split (60/20/20) then holds one.
MIN_SCENES = 3
PLAN_FIELDS = ("scenes", "formats", "seed", "sample_rate", "duration_s",
               "multisource_scenes", "sensitivity_anchors", "scenes_per_shard",
               "shards_per_split", "mode",
               "bank", "factors", "sofa_path")


@dataclass
class CorpusPlan:
    """Everything that decides a corpus's bytes (with the bank it names).

    Attributes
    ----------
    scenes : int
        Scenes of every format config, split 60/20/20 (:func:`split_sizes`).
    formats : tuple of str
        Format configs to write; also the formats of the multisource and sensitivity rows.
    seed : int
    sample_rate : int
        Hz.
    duration_s : float
    multisource_scenes : int, optional
        Scenes of the ``multisource`` config (split 60/20/20); 0 leaves it out. Default
        ``scenes // 4``.
    sensitivity_anchors : int, optional
        Anchor scenes of the ``sensitivity`` config (test split); 0 leaves it out.
        Default ``max(1, scenes // 100)``.
    scenes_per_shard : int
        Rows per parquet file at most (files also stay under 500 MB:
        :mod:`~sarl_hf.corpus.sizing`).
    shards_per_split : int
        Parquet files per split at least (fewer only for a split of fewer rows), so that
        a streaming ``DataLoader`` has a file for each of that many workers.
    mode : str
        Renderer mode.
    bank : dict
        ``SourceBank.to_dict()`` of the dry clips.
    factors : dict
        ``FactorConfig.to_dict()``.
    sofa_path : str or None
        HRTF of the binaural format (default MIT KEMAR).
    """

    scenes: int = 1000
    formats: tuple = FORMATS
    seed: int = 0
    sample_rate: int = 16000
    duration_s: float = 4.0
    multisource_scenes: int | None = None
    sensitivity_anchors: int | None = None
    scenes_per_shard: int = 500
    shards_per_split: int = 8
    mode: str = "fast"
    bank: dict = field(default_factory=dict)
    factors: dict = field(default_factory=lambda: FactorConfig().to_dict())
    sofa_path: str | None = None

    def __post_init__(self):
        self.formats = check_formats(self.formats)
        self.scenes = check_integer("scenes", self.scenes, MIN_SCENES)
        if self.multisource_scenes is None:
            self.multisource_scenes = self.scenes // 4
        if self.sensitivity_anchors is None:
            self.sensitivity_anchors = max(1, self.scenes // 100)
        self.multisource_scenes = check_integer("multisource_scenes", self.multisource_scenes,
                                                0)
        self.sensitivity_anchors = check_integer("sensitivity_anchors",
                                                 self.sensitivity_anchors, 0)
        self.scenes_per_shard = check_integer("scenes_per_shard", self.scenes_per_shard, 1)
        self.shards_per_split = check_integer("shards_per_split", self.shards_per_split, 1)
        self.seed = check_seed(self.seed)
        self.sample_rate = check_sample_rate(self.sample_rate)
        self.duration_s = check_duration(self.duration_s)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not isinstance(self.bank, dict):
            raise ValueError(f"bank must be a SourceBank.to_dict() dict, got {self.bank!r}")
        FactorConfig.from_dict(self.factors)  # a ValueError names the bad field
        if self.sofa_path is not None and not isinstance(self.sofa_path, str):
            raise ValueError(f"sofa_path must be a path (str) or None, got {self.sofa_path!r}")

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))  # as it reads back: lists, not tuples

    def digest(self) -> str:
        """A digest of :meth:`to_dict`: every shard record and data file carries it."""
        return json_digest(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "CorpusPlan":
        """The plan a :meth:`to_dict` dict describes; an unknown field or a bad value is a
        ValueError naming it."""
        if not isinstance(d, dict):
            raise ValueError(f"a corpus plan must be a dict of {PLAN_FIELDS}, got "
                             f"{type(d).__name__}")
        unknown = sorted(set(d) - set(PLAN_FIELDS))
        if unknown:
            raise ValueError(f"plan: unknown field(s) {unknown}; a plan has {PLAN_FIELDS}")
        return cls(**d)

    def split_size(self, config: str, split: str) -> int:
        """Scenes (anchors for ``sensitivity_<format>``) of one config's split."""
        kind, _ = parse_config(config)
        if kind == "sensitivity":
            return self.sensitivity_anchors if split == "test" else 0
        return split_sizes(self.multisource_scenes if kind == "multisource"
                           else self.scenes)[split]

    def configs(self) -> list[str]:
        """Configs this plan writes, in order: its formats, then per kind its formats."""
        formats = [f for f in format_names() if f in self.formats]
        special = [special_config(kind, fmt) for kind in SPECIAL_CONFIGS for fmt in formats]
        return formats + [c for c in special
                                     if any(self.split_size(c, s) for s in SPLITS)]

    def specs(self, config: str, split: str, bank: SourceBank) -> list[SceneSpec]:
        return config_specs(config, split, self.split_size(config, split), self.seed,
                            FactorConfig.from_dict(self.factors), bank,
                            self.sample_rate, self.duration_s)
