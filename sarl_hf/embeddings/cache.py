"""The embeddings cache: per-layer embeddings with labels, keyed by fingerprints.

Cache layout, one folder per (encoder, corpus) pair::

    <cache>/<encoder fingerprint>-<corpus fingerprint>/
        encoder.json                    the encoder's settings
        <config>/<split>/<shard>.parquet   one file per corpus shard: every label column
                                           (no audio) and one column per layer,
                                           ``layer:<name>`` = fixed-size list of float32
        <config>/<split>/_SUCCESS.json  written last: the parts with their checksums
        .sarl.lock                      while a run writes the folder

The corpus fingerprint is the sha256 of the manifest records of the config's data files,
and every shard is hashed as it is embedded and compared with the manifest, so a changed
corpus is a miss (or an error naming the changed file), and so is a changed encoder (its
settings and weights). Parts are written atomically, one per corpus shard, so an
interrupted run resumes where it stopped; a split without ``_SUCCESS.json`` is never read
as complete, and every part read is checked against its checksum there
(:mod:`sarl_hf.embeddings.embed` writes the parts).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..acoustics.formats import format_names
from ..corpus.integrity import manifest_records, read_manifest
from ..errors import ArgumentRequired, CorruptFile
from ..files import PARTIAL_SUFFIX, json_digest, read_json, read_verified, write_json
from ..splits import SPLITS

LAYER_PREFIX = "layer:"
SUCCESS = "_SUCCESS.json"


def corpus_fingerprint(corpus, config: str, manifest: dict | None = None) -> str:
    """Digest of the manifest records (sha256 per file) of one config of a corpus folder."""
    manifest = manifest or read_manifest(corpus)
    records = manifest_records(manifest, config)
    if not records:
        configs = sorted({r["config"] for r in manifest["files"]})
        raise ValueError(f"{corpus} has no config {config!r}; its configs are {configs}")
    return json_digest(sorted((r["path"], r["sha256"]) for r in records))


def cache_dir(cache, encoder, corpus, config: str, manifest: dict | None = None) -> Path:
    """The cache folder of an (encoder, corpus config) pair."""
    return Path(cache) / (f"{encoder.fingerprint()}-"
                          f"{corpus_fingerprint(corpus, config, manifest)}")


def cache_key(config: str, channel_format: str | None) -> str:
    """Sub-folder of a format config, or of one format of a kind (``multisource-foa``)."""
    if config in format_names():
        if channel_format not in (None, config):
            raise ValueError(f"config {config!r} holds only {config!r} rows, not "
                             f"{channel_format!r}")
        return config
    if channel_format not in format_names():
        raise ArgumentRequired(f"config {config!r} is cached per channel format: choose one "
                               f"with channel_format from {format_names()}", "channel_format")
    return f"{config}-{channel_format}"


def part_name(record: dict) -> str:
    """The part file of a corpus shard (its manifest record)."""
    return Path(record["path"]).name


def mark_complete(split_dir: Path, names: list[str]) -> None:
    """Write ``_SUCCESS.json``: every part of the split with its checksum."""
    parts = [split_dir / name for name in names]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise RuntimeError(f"{split_dir}: parts missing after embedding: {missing}")
    entries = []
    for part in parts:
        data = part.read_bytes()
        pq.read_metadata(pa.BufferReader(data))  # a part that does not parse is no part
        entries.append({"name": part.name, "sha256": hashlib.sha256(data).hexdigest()})
    write_json(split_dir / SUCCESS, {"parts": entries})


def read_success(split_dir: Path) -> dict:
    """The ``_SUCCESS.json`` of a split; CorruptFile naming it when it is not one."""
    path = split_dir / SUCCESS
    record = read_json(path, "an embeddings cache record")
    parts = record.get("parts")
    if not isinstance(parts, list) or not all(
            isinstance(p, dict) and {"name", "sha256"} <= set(p) for p in parts):
        raise CorruptFile(f"{path} is not an embeddings cache record: it needs 'parts', a "
                          "list of {'name', 'sha256'}", path)
    return record


def split_is_complete(split_dir: Path, names: list[str]) -> bool:
    """Whether a split of the cache is complete and intact: its ``_SUCCESS.json`` lists
    exactly ``names`` and every part matches its checksum.

    What is damaged (the record, a part missing, truncated or changed) is reported with a
    warning and removed, so the split is embedded again where needed.
    """
    path = split_dir / SUCCESS
    if not path.exists():
        return False
    try:
        record = read_success(split_dir)
    except CorruptFile as error:
        warnings.warn(f"{error}; embedding the split again")
        path.unlink()
        return False
    listed = [p["name"] for p in record["parts"]]
    bad = [p["name"] for p in record["parts"] if not _part_intact(split_dir, p)]
    if sorted(listed) == sorted(names) and not bad:
        return True
    for name in bad:
        warnings.warn(f"{split_dir / name} is missing or does not match its checksum in "
                      f"{SUCCESS}; embedding it again")
        (split_dir / name).unlink(missing_ok=True)
    if sorted(listed) != sorted(names):
        warnings.warn(f"{path} lists other parts than the corpus's shards; checking the "
                      "split again")
    path.unlink()
    return False


def _part_intact(split_dir: Path, part: dict) -> bool:
    try:
        read_verified(split_dir / part["name"], part["sha256"], SUCCESS)
    except CorruptFile:
        return False
    return True


def load_embeddings(folder, config: str, split: str, layer: str | None = None,
                    channel_format: str | None = None):
    """Embeddings and labels of one split from a complete cache folder (``channel_format``
    as in :func:`embed_corpus`); every part is checked against its checksum as it is
    read (CorruptFile naming a part that changed).

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
    record = read_success(split_dir)
    tables = [pq.read_table(pa.BufferReader(read_verified(split_dir / part["name"],
                                                          part["sha256"], SUCCESS)))
              for part in record["parts"]]
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


def cache_problems(folder) -> list[str]:
    """Everything wrong with one cache folder (``<encoder fp>-<corpus fp>``), one line each:
    splits not finished, parts missing, changed or not listed, leftover temporary files."""
    folder = Path(folder)
    problems = [f"{p.relative_to(folder)}: a temporary file an interrupted run left"
                for p in sorted(folder.rglob(f".*{PARTIAL_SUFFIX}"))]
    if not (folder / "encoder.json").is_file():
        problems.append("encoder.json is missing")
    for split_dir in sorted(p for p in folder.glob("*/*") if p.is_dir() and p.name in SPLITS):
        where = split_dir.relative_to(folder)
        parts = sorted(p.name for p in split_dir.glob("*.parquet"))
        if not (split_dir / SUCCESS).exists():
            problems.append(f"{where}: not complete (no {SUCCESS}; {len(parts)} parts so far)")
            continue
        try:
            record = read_success(split_dir)
        except CorruptFile as error:
            problems.append(str(error))
            continue
        listed = [p["name"] for p in record["parts"]]
        problems += [f"{where / p['name']}: missing or does not match its checksum in "
                     f"{SUCCESS}" for p in record["parts"] if not _part_intact(split_dir, p)]
        problems += [f"{where / name}: not listed in {SUCCESS}" for name in parts
                     if name not in listed]
    return problems
