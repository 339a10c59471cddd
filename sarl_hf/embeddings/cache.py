"""The embeddings cache: per-layer embeddings with labels, keyed by fingerprints.

Cache layout, one folder per (encoder, corpus) pair::

    <cache>/<encoder fingerprint>-<corpus fingerprint>/
        encoder.json                    the encoder's settings
        <config>/<split>/<shard>.parquet   one file per corpus shard: every label column
                                           (no audio) and one column per layer,
                                           ``layer:<name>`` = fixed-size list of float32
        <config>/<split>/_SUCCESS.json  written last: the parts with their checksums

The corpus fingerprint is the sha256 of the manifest records of the config's data files,
so a changed corpus is a miss, and so is a changed encoder (its settings and weights).
Parts are written atomically, one per corpus shard, so an interrupted run resumes where
it stopped; a split without ``_SUCCESS.json`` is never read as complete
(:mod:`sarl_hf.embeddings.embed` writes the parts).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..acoustics.formats import format_names
from ..errors import ArgumentRequired, IncompleteCorpus
from ..files import json_digest, sha256_file, write_json

LAYER_PREFIX = "layer:"
SUCCESS = "_SUCCESS.json"


def corpus_fingerprint(corpus, config: str) -> str:
    """Digest of the manifest records (sha256 per file) of one config of a corpus folder."""
    manifest_path = Path(corpus) / "manifest.json"
    if not manifest_path.is_file():
        raise IncompleteCorpus(f"{corpus} has no manifest.json: not a finished corpus")
    records = [r for r in json.loads(manifest_path.read_text())["files"]
               if r["config"] == config]
    if not records:
        raise ValueError(f"{corpus} has no config {config!r}")
    return json_digest(sorted((r["path"], r["sha256"]) for r in records))


def cache_dir(cache, encoder, corpus, config: str) -> Path:
    """The cache folder of an (encoder, corpus config) pair."""
    return Path(cache) / f"{encoder.fingerprint()}-{corpus_fingerprint(corpus, config)}"


def corpus_shards(corpus, config, split) -> list[Path]:
    return sorted(Path(corpus).glob(f"data/{config}/{split}-*.parquet"))


def cache_key(config: str, channel_format: str | None) -> str:
    """Sub-folder of a config (and, for the mixed-format configs, of one format)."""
    if config in format_names():
        if channel_format not in (None, config):
            raise ValueError(f"config {config!r} holds only {config!r} rows, not "
                             f"{channel_format!r}")
        return config
    if channel_format not in format_names():
        raise ArgumentRequired(f"config {config!r} holds every generated format: choose one "
                               f"with channel_format from {format_names()}", "channel_format")
    return f"{config}-{channel_format}"


def mark_complete(split_dir: Path, shards: list[Path]) -> None:
    parts = [split_dir / shard.name for shard in shards]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise RuntimeError(f"{split_dir}: parts missing after embedding: {missing}")
    record = {"parts": [{"name": p.name, "sha256": sha256_file(p)} for p in parts]}
    write_json(split_dir / SUCCESS, record)


def load_embeddings(folder, config: str, split: str, layer: str | None = None,
                    channel_format: str | None = None):
    """Embeddings and labels of one split from a complete cache folder (``channel_format``
    as in :func:`embed_corpus`).

    Returns
    -------
    embeddings : dict of str to ndarray (n, dim) float32
        Every layer, or only ``layer``.
    labels : pyarrow.Table
        The label columns, row-aligned with the embeddings.
    """
    split_dir = Path(folder) / cache_key(config, channel_format) / split
    if not (split_dir / SUCCESS).exists():
        raise ValueError(f"{split_dir} is not a complete embedding cache")
    record = json.loads((split_dir / SUCCESS).read_text())
    tables = [pq.read_table(split_dir / part["name"]) for part in record["parts"]]
    # a part of a shard that holds none of this format's rows has no layer columns
    table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
    names = [n for n in table.column_names if n.startswith(LAYER_PREFIX)]
    if layer is not None:
        if LAYER_PREFIX + layer not in names:
            raise ValueError(f"layer {layer!r} not in {[n[len(LAYER_PREFIX):] for n in names]}")
        names = [LAYER_PREFIX + layer]
    embeddings = {}
    for name in names:
        column = table.column(name).combine_chunks()
        dim = column.type.list_size
        embeddings[name[len(LAYER_PREFIX):]] = (
            column.values.to_numpy(zero_copy_only=False).reshape(-1, dim))
    labels = table.drop([n for n in table.column_names if n.startswith(LAYER_PREFIX)])
    return embeddings, labels
