"""Embed a generated corpus once: per-layer embeddings with labels, cached by fingerprint.

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
it stopped; a split without ``_SUCCESS.json`` is never read as complete.

Work is split by corpus shard over the processes of an ``accelerate launch`` (shard ``j``
goes to process ``j % num_processes``); every shard is embedded in the same batches
whatever the number of processes, so the result equals a single-process run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..acoustics.formats import FORMATS
from ..corpus.schema import audio_array
from ..files import atomic_write, json_digest, sha256_file, write_json
from ..splits import SPLITS

LAYER_PREFIX = "layer:"
SUCCESS = "_SUCCESS.json"


def corpus_fingerprint(corpus, config: str) -> str:
    """Digest of the manifest records (sha256 per file) of one config of a corpus folder."""
    manifest_path = Path(corpus) / "manifest.json"
    if not manifest_path.is_file():
        raise ValueError(f"{corpus} has no manifest.json: not a finished corpus (run "
                         "`sarl generate ... --resume` to finish it)")
    records = [r for r in json.loads(manifest_path.read_text())["files"]
               if r["config"] == config]
    if not records:
        raise ValueError(f"{corpus} has no config {config!r}")
    return json_digest(sorted((r["path"], r["sha256"]) for r in records))


def cache_dir(cache, encoder, corpus, config: str) -> Path:
    """The cache folder of an (encoder, corpus config) pair."""
    return Path(cache) / f"{encoder.fingerprint()}-{corpus_fingerprint(corpus, config)}"


def _shards(corpus, config, split) -> list[Path]:
    return sorted(Path(corpus).glob(f"data/{config}/{split}-*.parquet"))


def _embed_shard(encoder, shard: Path, out: Path, batch_size: int, channel_format: str,
                 on_rows) -> None:
    """Embed the rows of one format of one corpus shard into one part file, in batches."""
    parquet = pq.ParquetFile(shard)
    label_names = [n for n in parquet.schema_arrow.names if n != "audio"]
    rate = _sample_rate(shard)
    tables = []
    for batch in parquet.iter_batches(batch_size=batch_size):
        batch = batch.filter(pc.equal(batch.column("channel_format"), channel_format))
        if batch.num_rows == 0:
            continue
        audio = [audio_array(a) for a in batch.column("audio").to_pylist()]
        layers = encoder.embed(audio, rate)
        columns = {name: batch.column(name) for name in label_names}
        for layer, values in layers.items():
            columns[LAYER_PREFIX + layer] = pa.FixedSizeListArray.from_arrays(
                pa.array(values.reshape(-1), pa.float32()), values.shape[1])
        tables.append(pa.table(columns))
        on_rows(len(audio))
    if not tables:  # a shard with none of this format's rows
        schema = pa.schema([parquet.schema_arrow.field(n) for n in label_names])
        tables = [schema.empty_table()]
    table = pa.concat_tables(tables, promote_options="default")
    atomic_write(out, lambda tmp: pq.write_table(table, tmp))


def _sample_rate(shard: Path) -> int:
    features = json.loads(pq.read_schema(shard).metadata[b"huggingface"])["info"]["features"]
    return int(features["audio"]["sampling_rate"])


@dataclass
class EmbedReport:
    """What an ``embed_corpus`` call found or did."""

    folder: Path
    hits: list  # splits found complete
    embedded: list  # part files written by this process


def embed_corpus(encoder, corpus, config: str, cache, splits=SPLITS, batch_size: int = 32,
                 progress: bool = True, process_index: int = 0, num_processes: int = 1,
                 barrier=lambda: None, channel_format: str | None = None) -> EmbedReport:
    """Embed every split of one config of a corpus folder into the cache (or find it).

    Parameters
    ----------
    encoder : Encoder
    corpus : str or Path
        A folder written by ``sarl generate``.
    config : str
    cache : str or Path
        Cache root.
    splits : sequence of str
        Splits to embed (those the config has).
    batch_size : int
        Scenes per ``encoder.embed`` call.
    progress : bool
    process_index, num_processes : int
        This process's share of the shards (from ``accelerate``).
    barrier : callable
        Waits for every process (``accelerate``'s ``wait_for_everyone``).
    channel_format : str, optional
        For ``multisource`` and ``sensitivity``, whose rows hold every format: the format
        to embed (stored under ``<config>-<format>``). Format configs need none.

    Returns
    -------
    EmbedReport
    """
    folder = cache_dir(cache, encoder, corpus, config)
    key = _cache_key(config, channel_format)
    channel_format = channel_format or config
    if process_index == 0:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "encoder.json", encoder.settings(), default=str)
    report = EmbedReport(folder, [], [])
    todo = []
    for split in splits:
        shards = _shards(corpus, config, split)
        if not shards:
            continue
        if (folder / key / split / SUCCESS).exists():
            report.hits.append(split)
            continue
        todo.extend((split, shard) for shard in shards)
    mine = [job for j, job in enumerate(todo) if j % num_processes == process_index]
    pending = [(split, shard, folder / key / split / shard.name) for split, shard in mine
               if not (folder / key / split / shard.name).exists()]
    total = sum(pq.ParquetFile(shard).metadata.num_rows for _, shard, _ in pending)
    with tqdm(total=total, desc=f"embedding {config} ({encoder.name})", unit="scene",
              disable=not progress) as bar:
        for split, shard, out in pending:
            _embed_shard(encoder, shard, out, batch_size, channel_format, bar.update)
            report.embedded.append(out)
    barrier()
    if process_index == 0:
        for split in {split for split, _ in todo}:
            _mark_complete(folder / key / split, _shards(corpus, config, split))
    barrier()
    return report


def _cache_key(config: str, channel_format: str | None) -> str:
    """Sub-folder of a config (and, for the mixed-format configs, of one format)."""
    if config in FORMATS:
        if channel_format not in (None, config):
            raise ValueError(f"config {config!r} holds only {config!r} rows, not "
                             f"{channel_format!r}")
        return config
    if channel_format not in FORMATS:
        raise ValueError(f"config {config!r} holds every generated format: choose one with "
                         f"channel_format / --format from {FORMATS}")
    return f"{config}-{channel_format}"


def _mark_complete(split_dir: Path, shards: list[Path]) -> None:
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
    split_dir = Path(folder) / _cache_key(config, channel_format) / split
    if not (split_dir / SUCCESS).exists():
        raise ValueError(f"{split_dir} is not a complete embedding cache")
    record = json.loads((split_dir / SUCCESS).read_text())
    tables = [pq.read_table(split_dir / part["name"]) for part in record["parts"]]
    table = pa.concat_tables(tables)
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
