"""The columns of every SARL config as ``datasets`` features, and a rendered scene as a row.

Every config has the same columns (:func:`corpus_features`), so code that reads one reads
all.

Audio is stored as float32 WAV bytes (exact samples; same seed, same bytes). ``datasets``
decodes it to a torchcodec ``AudioDecoder``: ``example["audio"].get_all_samples().data``
is (channels, samples); ``example["audio"]["array"]`` is ``datasets``' mono downmix.
:func:`audio_array` gives (channels, samples) from any of these forms.
"""

from __future__ import annotations

import io

import numpy as np
from datasets import Audio, ClassLabel, Features, List, Value
from scipy.io import wavfile

from ..files import wav_bytes
from ..rendering.renderer import RenderedScene
from ..scene.factors import FACTORS, SOURCE_FACTORS, FactorConfig
from .captions import caption

#: Exact values of a scene (float columns), unit in the name.
EXACT_COLUMNS = ("azimuth_deg", "elevation_deg", "distance_m", "rt60_s", "rt60_target_s",
                 "drr_db", "c50_db", "volume_m3", "absorption")


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
