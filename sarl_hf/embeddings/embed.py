"""Embed a generated corpus once, shard by shard, into the cache (:mod:`.cache`).

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

from ..corpus.schema import audio_array
from ..files import atomic_write, write_json
from ..splits import SPLITS
from .cache import LAYER_PREFIX, SUCCESS, cache_dir, cache_key, corpus_shards, mark_complete


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
    key = cache_key(config, channel_format)
    channel_format = channel_format or config
    if process_index == 0:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "encoder.json", encoder.settings(), default=str)
    report = EmbedReport(folder, [], [])
    todo = []
    for split in splits:
        shards = corpus_shards(corpus, config, split)
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
            mark_complete(folder / key / split, corpus_shards(corpus, config, split))
    barrier()
    return report


def embed_in_processes(encoder_name: str, corpus, config: str, cache, splits=SPLITS, *,
                       channel_format: str | None = None, device: str | None = None,
                       batch_size: int = 32, progress: bool = True, **options):
    """:func:`embed_corpus` with ``load_encoder(encoder_name, ...)`` in this process's share
    of an ``accelerate launch`` (or torchrun, or a single process).

    ``device`` defaults to accelerate's choice for the process (CPU processes use gloo);
    ``options`` go to :func:`~sarl_hf.encoders.load_encoder`. Returns ``(encoder, report,
    state)``, ``state`` being accelerate's ``PartialState``.
    """
    import torch
    from accelerate import PartialState

    from ..encoders.registry import load_encoder

    state = PartialState(cpu=device == "cpu" or not torch.cuda.is_available())
    encoder = load_encoder(encoder_name, channel_format=channel_format or config,
                           device=device or str(state.device), **options)
    report = embed_corpus(encoder, corpus, config, cache, splits, batch_size=batch_size,
                          progress=progress and state.is_main_process,
                          process_index=state.process_index,
                          num_processes=state.num_processes, barrier=state.wait_for_everyone,
                          channel_format=channel_format)
    return encoder, report, state
