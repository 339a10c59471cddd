"""The dataset card (``README.md``) of a generated SARL corpus: YAML header and prose."""

from __future__ import annotations

import json

from datasets import SplitDict, SplitInfo
from datasets.info import DatasetInfo, DatasetInfosDict
from huggingface_hub import DatasetCardData

from .. import __version__
from ..citation import citation_section
from ..scene.factors import FACTORS, SOURCE_FACTORS, FactorConfig
from ..splits import SPLITS
from .plan import parse_config
from .schema import EXACT_COLUMNS, corpus_features

LICENSE = "cc-by-4.0"
#: What the card of an unfinished corpus says; ``sarl verify`` looks for it.
INCOMPLETE_MARK = "THIS CORPUS IS NOT FINISHED"
FORMAT_NOTES = {
    "mono": "1 channel: an omnidirectional capsule at the listener",
    "stereo": "2 channels (left, right): spaced omni pair, 0.2 m apart",
    "binaural": "2 channels (left ear, right ear): measured HRTF, default MIT KEMAR "
                "(normal pinna) from Debian's libmysofa1",
    "foa": "4 channels (W, Y, Z, X): first-order ambisonics, ACN order, SN3D normalisation",
    "mic4": "4 channels: tetrahedral array of omni capsules, radius 4.2 cm",
}
EXACT_NOTES = {
    "azimuth_deg": "direct-path azimuth, degrees, counter-clockwise from the front",
    "elevation_deg": "direct-path elevation, degrees, positive up",
    "distance_m": "direct-path distance, metres",
    "rt60_s": "RT60 measured on the rendered omni response (T30, Schroeder), seconds",
    "rt60_target_s": "RT60 the room was designed for (Eyring), seconds",
    "drr_db": "direct-to-reverberant ratio, dB", "c50_db": "clarity C50, dB",
    "volume_m3": "room volume, cubic metres", "absorption": "mean absorption coefficient",
}
BANK_NOTES = {
    "procedural": "clips synthesised by `sarl_hf`'s own recipes (harmonic tones, bells, "
                  "sweeps, noise bursts, clicks, drums, vowels, …), deterministic by seed; "
                  "no third-party material",
    "gm": "General MIDI instrument phrases rendered with FluidSynth from the FluidR3 GM "
          "soundfont (Frank Wen, MIT licence; Debian's fluid-soundfont-gm) and English "
          "sentences spoken by espeak-ng (GPL-3.0 program; its speech output carries no "
          "licence restriction), loudness-normalised (ITU-R BS.1770) per clip",
    "folder": "recordings from a local folder (class = sub-folder); their own licences apply",
    "dataset": "clips from a `datasets` audio dataset; its licence applies",
}
#: The configs ``load_dataset(folder)`` may give without a config name, preferred first
#: (else the corpus's first config): two channels, which carry direction (mono does not)
#: and which most encoders take.
PREFERRED_DEFAULTS = ("binaural", "stereo")
#: ``size_categories`` of the Hub: (upper bound of rows, name).
SIZE_CATEGORIES = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"),
                   (10**6, "100K<n<1M"), (10**7, "1M<n<10M"), (10**8, "10M<n<100M"))
KIND_NOTES = {
    "multisource": "2–3 simultaneous sources with per-source labels and a caption",
    "sensitivity": "one-factor-at-a-time variants of anchor scenes",
}


def default_config(configs: list[str]) -> str:
    """The config a corpus with ``configs`` marks ``default``."""
    return next((c for c in PREFERRED_DEFAULTS if c in configs), configs[0])


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value of a dataset of ``rows`` rows.

    >>> size_category(41750)
    '10K<n<100K'
    """
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>1T" if rows >= 10**12 else "100M<n<1B" if rows < 10**9 else "1B<n<10B"


def _card_data(plan, features, records) -> DatasetCardData:
    configs, infos = [], {}
    default = default_config(plan.configs())
    for config in plan.configs():
        mine = [r for r in records if r["config"] == config]
        splits = [s for s in SPLITS if any(r["split"] == s for r in mine)]
        configs.append({"config_name": config, "data_files": [
            {"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in splits]})
        if config == default:
            configs[-1]["default"] = True
        infos[config] = DatasetInfo(features=features, splits=SplitDict({
            s: SplitInfo(s, num_bytes=sum(r["num_bytes"] for r in mine if r["split"] == s),
                         num_examples=sum(r["num_rows"] for r in mine if r["split"] == s))
            for s in splits}))
    data = DatasetCardData(license=LICENSE, pretty_name="SARL spatial scenes",
                           language=["en"],  # the captions
                           size_categories=[size_category(sum(r["num_rows"]
                                                              for r in records))],
                           task_categories=["audio-classification"],
                           tags=["spatial-audio", "room-acoustics", "binaural", "ambisonics",
                                 "probing", "synthetic"],
                           configs=configs)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data


def _rows_table(plan, records) -> str:
    lines = ["| config | what | " + " | ".join(SPLITS) + " |",
             "|---|---|" + "---|" * len(SPLITS)]
    for config in plan.configs():
        counts = [str(sum(r["num_rows"] for r in records
                          if r["config"] == config and r["split"] == s)) for s in SPLITS]
        kind, fmt = parse_config(config)
        what = FORMAT_NOTES.get(fmt, fmt)
        if kind != "format":
            what = f"{KIND_NOTES[kind]}; `{fmt}`: {what}"
        lines.append(f"| `{config}` | {what} | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def _factor_table(factors: FactorConfig, classes) -> str:
    exact = {"azimuth": "azimuth_deg", "elevation": "elevation_deg",
             "distance": "distance_m", "rt60": "rt60_s", "volume": "volume_m3"}
    lines = ["| factor | acts on | levels (`ClassLabel` names) | exact column |",
             "|---|---|---|---|"]
    for f in FACTORS:
        names = ", ".join(factors.level_names(f, tuple(classes)))
        where = "source" if f in SOURCE_FACTORS else "room"
        lines.append(f"| `{f}` | {where} | {names} | "
                     f"{'`' + exact[f] + '`' if f in exact else '–'} |")
    return "\n".join(lines)


def dataset_card(plan, bank, records: list[dict]) -> str:
    """The card of a corpus, from its plan, its bank and its shard records."""
    factors = FactorConfig.from_dict(plan.factors)
    features = corpus_features(factors, bank.classes, plan.sample_rate)
    header = _card_data(plan, features, records).to_yaml()
    exact = "\n".join(f"  - `{name}`: {EXACT_NOTES[name]}" for name in EXACT_COLUMNS)
    default, last = default_config(plan.configs()), plan.configs()[-1]
    return f"""---
{header}
---

# SARL spatial scenes

A balanced synthetic corpus of spatial audio scenes for measuring how much spatial
information frozen audio encoders keep (the SARL benchmark, `sarl_hf` {__version__}). Each
scene places a dry source in a room, and every factor below is balanced within each split
(every level equally often, ±1); splits use disjoint dry clips.

```python
from datasets import load_dataset
from torch.utils.data import DataLoader
from sarl_hf.corpus.batches import collate  # the sarl_hf package

ds = load_dataset("<this folder or repo>", split="train", streaming=True)  # `{default}`
example = next(iter(ds))
audio = example["audio"].get_all_samples().data   # (channels, samples), float32
# example["audio"]["array"] is the mono downmix datasets gives

ds = load_dataset("<this folder or repo>", "{last}", split="train", streaming=True)
loader = DataLoader(ds, batch_size=32, num_workers=8, collate_fn=collate)
batch = next(iter(loader))  # batch["audio"]: (32, channels, samples) float32 tensor;
                            # batch["azimuth"]: int64 levels, batch["azimuth_deg"]: float32
```

## Configs

{_rows_table(plan, records)}

Every config holds one channel format, so its `audio` column has one channel count; the
format configs hold the same scenes (same geometry, clip and seed) in each format, and so
do the `multisource_*` and the `sensitivity_*` configs. `{default}` is the default config.
Sample rate {plan.sample_rate} Hz; {plan.duration_s:g} s per scene.

Each split is cut into at least {plan.shards_per_split} parquet files (fewer only for a
split with fewer rows) of at most {plan.scenes_per_shard} rows and 500 MB: a streaming
`DataLoader` gives each worker whole files, so that many workers have work.

## Factors

{_factor_table(factors, bank.classes)}

## Columns

- `audio`: float32 WAV, decoding to (channels, samples); `channel_format` names its
  format. Float32 WAV rather than FLAC: the rendered scenes are not bounded by full scale
  (24-bit FLAC clipped 883 samples of 24 binaural scenes of the published design, an SNR
  of 15 dB in the worst scene), a gain per scene would change the levels that carry
  distance, and FLAC's bytes depend on the libFLAC build, while these are exact
  (a re-render of `spec` gives them bit for bit) and the same on every machine. FLAC
  would be 0.49× the size (`benchmarks/bench_audio_codec.py` in `sarl_hf`); zstd on the
  WAV 0.92×.
- One `ClassLabel` column per factor ({", ".join(f"`{f}`" for f in FACTORS)}): the
  nominal level of the primary source and of the room.
- Exact values of what the rendered scene has:
{exact}
- `num_sources`, `sources`: per source its levels, exact direction and distance,
  `class_name` and `clip_id`; `caption`: an English sentence naming each source's
  content and place and the room.
- `sensitivity_*` rows: `anchor_id`, `variant_factor` (the factor that moves) and
  `variant_level`; empty and -1 in other configs.
- `bank`, `clip_id`: the dry clip; `scene_id`; `spec`: the full scene spec as JSON, from
  which `sarl_hf` re-renders the scene exactly.

## How it was made

Rendered with `sarl_hf` {__version__} (`sarl generate`), renderer `{plan.mode}`: exact
image sources (up to order 3) for the early part and a diffuse tail that decays at the
target RT60 with the format's diffuse-field coherence. Room shapes are extruded floor
plans (shoebox, L, T, hexagonal prism); absorption is set by Eyring's formula. Labels are
measured on the rendered responses.

Dry sources: the `{bank.name}` bank: {BANK_NOTES.get(bank.name, "a custom bank")}.
Every row names its bank (`bank`), class and clip (`clip_id`); the bank's parameters:
`{json.dumps(bank.to_dict(), sort_keys=True)}`.
The generation parameters are below and in `manifest.json`, which also lists every data
file with its sha256; `sarl generate --resume` with these parameters verifies and rebuilds
the corpus byte for byte.

```json
{json.dumps(plan.to_dict(), sort_keys=True, indent=1)}
```

## License

{LICENSE} for the rendered scenes; the dry sources keep the terms given above. The
binaural format uses the MIT KEMAR HRTF measurements (Gardner and Martin,
MIT Media Lab), distributed with libmysofa.

{citation_section()}"""


def incomplete_card(plan, done: int, total: int) -> str:
    """The card of a corpus whose generation is not finished: ``load_dataset`` finds no
    data through it (its only config points at no file), so a partial folder never loads
    as if it were the corpus."""
    return f"""---
configs:
- config_name: unfinished
  data_files:
  - split: train
    path: "{INCOMPLETE_MARK.replace(' ', '-')}/*.parquet"
---

# SARL spatial scenes: {INCOMPLETE_MARK}

{done} of {total} shards are written. This folder is not a dataset yet:
`datasets.load_dataset` reads nothing from it, on purpose, since a part of the corpus is
not balanced and lacks splits. Finish it with the same parameters (`sarl generate ...
--resume`; for slices made on several machines, gather every slice's folder here first);
the card and `manifest.json` are written when every shard is there. `sarl verify` says
what is missing.

Plan digest `{plan.digest()}`; the parameters are in `.sarl/plan.json`.
"""
