"""Embed a generated corpus once, shard by shard, into the cache (:mod:`.cache`).

Work is split by corpus shard over the processes of an ``accelerate launch`` (shard ``j``
goes to process ``j % num_processes``); every shard is embedded in the same batches
whatever the number of processes, so the result equals a single-process run. Every shard
is hashed as it is read and must match the corpus's manifest; the cache folder is locked
by the run's main process, which first removes what an interrupted run left (temporary
files) and re-embeds what is damaged.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..corpus.integrity import manifest_records, open_shard, read_manifest
from ..corpus.plan import config_format, parse_config, stored_config
from ..corpus.schema import audio_array
from ..files import atomic_write, remove_partial_files, write_json
from ..locks import folder_lock
from ..splits import SPLITS
from .cache import (LAYER_PREFIX, SUCCESS, cache_dir, cache_key, mark_complete, part_name,
                    split_is_complete)

logger = logging.getLogger(__name__)


def _embed_shard(encoder, parquet: pq.ParquetFile, out: Path, batch_size: int,
                 channel_format: str, on_rows) -> None:
    """Embed the rows of one format of one corpus shard into one part file, in batches."""
    label_names = [n for n in parquet.schema_arrow.names if n != "audio"]
    rate = _sample_rate(parquet)
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


def _sample_rate(parquet: pq.ParquetFile) -> int:
    features = json.loads(parquet.schema_arrow.metadata[b"huggingface"])["info"]["features"]
    return int(features["audio"]["sampling_rate"])


@dataclass
class EmbedReport:
    """What an ``embed_corpus`` call found or did."""

    folder: Path
    hits: list  # splits found complete
    embedded: list  # part files written by this process


def check_request(manifest: dict, corpus, config: str, splits, channel_format=None) -> list:
    """The splits to embed, after refusing what the corpus cannot give: a format the
    corpus was not generated in, a config it lacks, a split name other than the three, a
    split the config lacks (when asked for by name)."""
    formats = manifest["plan"]["formats"]
    if channel_format is not None and channel_format not in formats:
        raise ValueError(f"channel_format {channel_format!r} is not a format of {corpus}: it "
                         f"was generated in {formats}")
    present = [s for s in SPLITS if manifest_records(manifest, config, s)]
    if not present:
        configs = sorted({r["config"] for r in manifest["files"]})
        raise ValueError(f"{corpus} has no config {config!r}; its configs are {configs}")
    if splits is None:
        return present
    if isinstance(splits, str) or not splits:
        raise ValueError(f"splits must be a non-empty sequence of {SPLITS}, got {splits!r}")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"splits: {unknown} not among {SPLITS}")
    absent = [s for s in splits if s not in present]
    if absent:
        raise ValueError(f"splits: config {config!r} of {corpus} has no {absent} split; it "
                         f"has {present}")
    return list(dict.fromkeys(splits))


def embed_corpus(encoder, corpus, config: str, cache, splits=None, batch_size: int = 32,
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
    splits : sequence of str, optional
        Splits to embed; default every split the config has.
    batch_size : int
        Scenes per ``encoder.embed`` call.
    progress : bool
    process_index, num_processes : int
        This process's share of the shards (from ``accelerate``).
    barrier : callable
        Waits for every process (``accelerate``'s ``wait_for_everyone``).
    channel_format : str, optional
        With ``config`` ``multisource`` or ``sensitivity``: the format to embed, read from
        the corpus config ``<config>_<format>`` and stored under ``<config>-<format>``.
        A full config name (``multisource_foa``, ``foa``) needs none.

    Returns
    -------
    EmbedReport
    """
    manifest = read_manifest(corpus)
    stored = stored_config(config, channel_format)
    splits = check_request(manifest, corpus, stored, splits, channel_format)
    kind, channel_format = parse_config(stored)
    folder = cache_dir(cache, encoder, corpus, stored, manifest)
    key = cache_key(channel_format if kind == "format" else kind, channel_format)
    records = {s: manifest_records(manifest, stored, s) for s in splits}
    main = process_index == 0
    with folder_lock(folder, f"sarl embed: {encoder.name} on {config}") if main else             contextlib.nullcontext():
        hits = _prepare(folder, encoder, key, records) if main else []
        barrier()  # the main process has cleared and checked the folder
        report = EmbedReport(folder, hits, [])
        todo = [(split, record) for split in splits
                if split not in hits and not (folder / key / split / SUCCESS).exists()
                for record in records[split]]
        mine = [job for j, job in enumerate(todo) if j % num_processes == process_index]
        pending = [(record, folder / key / split / part_name(record)) for split, record in mine
                   if not (folder / key / split / part_name(record)).exists()]
        total = sum(record["num_rows"] for record, _ in pending)
        if pending:
            with tqdm(total=total, desc=f"embedding {key} ({encoder.name})", unit="scene",
                      disable=not progress) as bar:
                for record, out in pending:
                    _embed_shard(encoder, open_shard(corpus, record), out, batch_size,
                                 channel_format, bar.update)
                    report.embedded.append(out)
        elif main:  # nothing to embed: say so, not an empty progress bar
            logger.info("embedding %s (%s): cached (%s)", key, encoder.name,
                        ", ".join(splits))
        barrier()
        if main:
            for split in {split for split, _ in todo}:
                mark_complete(folder / key / split, [part_name(r) for r in records[split]])
        barrier()
    return report


def _prepare(folder: Path, encoder, key: str, records: dict) -> list:
    """Ready a locked cache folder: settings written, what an interrupted run left
    removed, damaged splits cleared; returns the splits found complete."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "encoder.json", encoder.settings(), default=str)
    remove_partial_files(folder)
    return [split for split, found in records.items()
            if split_is_complete(folder / key / split, [part_name(r) for r in found])]


def embed_in_processes(encoder_name: str, corpus, config: str, cache, splits=None, *,
                       channel_format: str | None = None, device: str | None = None,
                       batch_size: int = 32, progress: bool = True, **options):
    """:func:`embed_corpus` with ``load_encoder(encoder_name, ...)`` in this process's share
    of an ``accelerate launch`` (or torchrun, or a single process).

    ``device`` defaults to accelerate's choice for the process, the rule of
    :func:`~sarl_hf.checks.default_device` (CPU processes use gloo);
    ``options`` go to :func:`~sarl_hf.encoders.load_encoder`. Returns ``(encoder, report,
    state)``, ``state`` being accelerate's ``PartialState``.
    """
    import torch
    from accelerate import PartialState

    from ..encoders.registry import load_encoder

    state = PartialState(cpu=device == "cpu" or not torch.cuda.is_available())
    stored = stored_config(config, channel_format)
    encoder = load_encoder(encoder_name, channel_format=config_format(stored) or stored,
                           device=device or str(state.device), **options)
    report = embed_corpus(encoder, corpus, config, cache, splits, batch_size=batch_size,
                          progress=progress and state.is_main_process,
                          process_index=state.process_index,
                          num_processes=state.num_processes, barrier=state.wait_for_everyone,
                          channel_format=channel_format)
    return encoder, report, state
