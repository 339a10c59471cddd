"""The SARL corpus as a Hugging Face ``datasets`` dataset.

Configs: one per channel format (``mono``, ``stereo``, ``binaural``, ``foa``, ``mic4``;
the same single-source scenes in each), ``multisource`` (2–3 simultaneous sources, with
per-source labels and a caption) and ``sensitivity`` (one-factor-at-a-time variants of
anchor scenes, ``test`` split only). The two last hold a row per scene and generated
format, told apart by ``channel_format``. Every config has the same columns
(:func:`corpus_features`), so code that reads one reads all.

:func:`stream` renders a config on the fly as an ``IterableDataset`` (no disk), example
for example equal to what ``sarl generate`` writes for the same parameters.

Audio is stored as float32 WAV bytes (exact samples; same seed, same bytes). ``datasets``
decodes it to a torchcodec ``AudioDecoder``: ``example["audio"].get_all_samples().data``
is (channels, samples); ``example["audio"]["array"]`` is ``datasets``' mono downmix.
:func:`audio_array` gives (channels, samples) from any of these forms.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import replace

import numpy as np
from datasets import Audio, ClassLabel, Features, IterableDataset, List, Value
from scipy.io import wavfile

from ..acoustics.formats import FORMATS
from ..acoustics.render import RenderedScene, Renderer
from ..files import wav_bytes
from ..scene.balanced import design
from ..scene.factors import FACTORS, SOURCE_FACTORS, FactorConfig
from ..scene.spec import SceneSpec
from ..scene.variants import sensitivity_design
from ..sources import SourceBank, as_bank
from ..splits import SPLITS
from .captions import caption

SPECIAL_CONFIGS = ("multisource", "sensitivity")
CONFIGS = FORMATS + SPECIAL_CONFIGS
#: Exact values of a scene (float columns), unit in the name.
EXACT_COLUMNS = ("azimuth_deg", "elevation_deg", "distance_m", "rt60_s", "rt60_target_s",
                 "drr_db", "c50_db", "volume_m3", "absorption")
#: Fraction of a corpus's scenes in the validation and in the test split.
HELD_OUT_FRACTION = 0.2
#: Extra sources in a multisource scene: every other scene has 3 sources, the rest 2.
MULTISOURCE_MAX_SOURCES = 3


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
                 formats=FORMATS, sample_rate: int = 16000, duration_s: float = 4.0
                 ) -> list[SceneSpec]:
    """The scene specs of one config and split, in the order they are stored.

    Parameters
    ----------
    config : str
        A channel format, ``multisource`` or ``sensitivity``.
    split : str
    n : int
        Scenes of this split (anchor scenes for ``sensitivity``, whose only split is
        ``test``).
    seed : int
    factors : FactorConfig, optional
    bank : SourceBank, optional
    formats : sequence of str
        Formats the ``multisource`` and ``sensitivity`` rows are rendered in (format
        after format); ignored by the format configs.
    sample_rate : int
        Hz.
    duration_s : float

    Returns
    -------
    list of SceneSpec
    """
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {CONFIGS}, got {config!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 1:
        return []
    kwargs = dict(factors=factors, bank=as_bank(bank, seed), sample_rate=sample_rate,
                  duration_s=duration_s)
    if config in FORMATS:
        return design(n, split, seed, channel_format=config, **kwargs)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats: unknown {unknown}; choose from {FORMATS}")
    if config == "sensitivity":
        if split != "test":
            raise ValueError("the sensitivity config has only a 'test' split")
        specs = sensitivity_design(n, derived_seed(seed, config), split=split,
                                   id_prefix="sensitivity-", **kwargs)
    else:
        specs = design(n, split, derived_seed(seed, config), id_prefix="multisource-",
                       num_sources=MULTISOURCE_MAX_SOURCES, **kwargs)
        specs = [spec if i % 2 == 0 else _without_last_source(spec)
                 for i, spec in enumerate(specs)]
    return [spec.with_format(fmt) for fmt in formats for spec in specs]


def _without_last_source(spec: SceneSpec) -> SceneSpec:
    return replace(spec, sources=spec.sources[:-1])


def corpus_features(factors: FactorConfig | None = None, classes=(),
                    sample_rate: int = 16000) -> Features:
    """The columns of every SARL config.

    - ``scene_id``, ``channel_format``, ``audio`` (float32 WAV, (channels, samples));
    - one ``ClassLabel`` per factor with the nominal level (``azimuth``, ``elevation``,
      ``distance``, ``class``, ``rt60``, ``volume``, ``shape``) of the primary source
      and the room;
    - the exact values, unit in the name: ``azimuth_deg``, ``elevation_deg``,
      ``distance_m`` (direct path), ``rt60_s`` (measured), ``rt60_target_s``,
      ``drr_db``, ``c50_db``, ``volume_m3``, ``absorption``;
    - ``bank``, ``clip_id``; ``num_sources`` and ``sources`` (per source: levels,
      exact direction and distance, class name, clip id); ``caption``;
    - ``anchor_id``, ``variant_factor``, ``variant_level`` (sensitivity rows; empty
      strings and -1 elsewhere); ``spec``, the scene spec as JSON.
    """
    config = factors or FactorConfig()
    level = {f: ClassLabel(names=config.level_names(f, tuple(classes))) for f in FACTORS}
    source = {f: level[f] for f in SOURCE_FACTORS}
    source.update(class_name=Value("string"), clip_id=Value("string"),
                  azimuth_deg=Value("float64"), elevation_deg=Value("float64"),
                  distance_m=Value("float64"))
    columns = {"scene_id": Value("string"), "channel_format": Value("string"),
               "audio": Audio(sampling_rate=sample_rate)}
    columns.update(level)
    columns.update({name: Value("float64") for name in EXACT_COLUMNS})
    columns.update(bank=Value("string"), clip_id=Value("string"),
                   num_sources=Value("int32"), sources=List(source),
                   caption=Value("string"), anchor_id=Value("string"),
                   variant_factor=Value("string"), variant_level=Value("int32"),
                   spec=Value("string"))
    return Features(columns)


def audio_array(value) -> np.ndarray:
    """Samples (channels, samples), float32, of an ``audio`` value in any of its forms.

    ``value`` may be a decoded torchcodec ``AudioDecoder``, an undecoded
    ``{"bytes": ..., "path": ...}`` dict, or a ``{"array": ...}`` dict.
    """
    if hasattr(value, "get_all_samples"):
        return value.get_all_samples().data.numpy()
    if isinstance(value, dict) and value.get("bytes") is not None:
        _, samples = wavfile.read(io.BytesIO(value["bytes"]))
        return np.atleast_2d(samples.T).astype(np.float32, copy=False)
    if isinstance(value, dict) and "array" in value:
        return np.atleast_2d(np.asarray(value["array"], np.float32))
    raise TypeError(f"cannot read audio from a {type(value).__name__}")


def scene_example(scene: RenderedScene, bank_name: str) -> dict:
    """The row of a rendered scene (before ``Features.encode_example``)."""
    labels, spec = scene.labels, scene.spec
    row = {"scene_id": spec.scene_id, "channel_format": spec.channel_format,
           "audio": {"bytes": wav_bytes(scene.audio, scene.sample_rate),
                     "path": f"{spec.scene_id}.wav"}}
    row.update({f: labels[f] for f in FACTORS})
    row.update({name: float(labels[name]) for name in EXACT_COLUMNS})
    row.update(bank=bank_name, clip_id=labels["clip_id"], num_sources=len(spec.sources),
               sources=labels["sources"], caption=caption(labels),
               anchor_id=spec.variant.get("anchor", ""),
               variant_factor=spec.variant.get("factor", ""),
               variant_level=int(spec.variant.get("level", -1)), spec=spec.to_json())
    return row


def chunks(items: list, size: int) -> list[list]:
    """``items`` cut into consecutive lists of at most ``size``."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [items[i:i + size] for i in range(0, len(items), size)]


def _render_examples(spec_chunks, bank, mode, sofa_path):
    """Generator behind :func:`stream`: renders its share of the chunks, in order."""
    renderer = Renderer(bank=bank, mode=mode, sofa_path=sofa_path)
    for chunk in spec_chunks:
        for spec_dict in chunk:
            yield scene_example(renderer.render(SceneSpec.from_dict(spec_dict)), bank.name)


def stream(config: str = "mono", split: str = "train", n: int = 48, seed: int = 0, *,
           formats=FORMATS, factors: FactorConfig | None = None,
           bank: SourceBank | str | None = None, sample_rate: int = 16000,
           duration_s: float = 4.0, mode: str = "fast", sofa_path=None,
           num_shards: int = 16) -> IterableDataset:
    """Scenes of one config and split rendered on the fly, with the corpus's features.

    For the same parameters it yields exactly the examples, in the same order, that
    ``sarl generate`` stores in ``data/<config>/<split>-*.parquet`` (``n`` is then that
    split's size, e.g. ``split_sizes(scenes)[split]``).

    Parameters
    ----------
    config, split, n, seed, formats, factors, sample_rate, duration_s
        As in :func:`config_specs`.
    bank : SourceBank or str, optional
        Dry clips, or a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``)
        built with ``seed`` as ``sarl generate --sources`` does; default procedural.
    mode : str
        Renderer mode, ``fast`` or ``reference``.
    sofa_path : str, optional
        HRTF for binaural scenes.
    num_shards : int
        The scenes are cut into at most this many shards, which a ``DataLoader`` with
        several workers shares out, each scene rendered once.

    Returns
    -------
    datasets.IterableDataset
    """
    bank = as_bank(bank, seed)
    specs = config_specs(config, split, n, seed, factors, bank, formats, sample_rate,
                         duration_s)
    if not specs:
        raise ValueError(f"n must be >= 1, got {n}")
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    features = corpus_features(factors, bank.classes, sample_rate)
    dicts = [spec.to_dict() for spec in specs]
    size = -(-len(dicts) // min(num_shards, len(dicts)))
    return IterableDataset.from_generator(
        _render_examples, features=features,
        gen_kwargs={"spec_chunks": chunks(dicts, size), "bank": bank, "mode": mode,
                    "sofa_path": sofa_path})
