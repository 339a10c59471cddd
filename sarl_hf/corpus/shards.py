"""One parquet file of the corpus: the fixed list of shard jobs a plan makes, how a shard
is rendered and written, and the record that says it is done.

A shard's bytes depend only on the plan and the shard, so the jobs may run in any order,
in any process, on any machine. Each shard is written to a temporary file and renamed,
then its record (rows, bytes, sha256) is written; a shard counts as done when its record
exists and its checksum matches.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CorruptFile
from ..files import atomic_write, read_json, sha256_file, write_json
from ..rendering.renderer import Renderer
from ..scene.factors import FactorConfig
from ..scene.spec import SceneSpec
from ..sources import SourceBank
from ..splits import SPLITS
from .plan import CorpusPlan
from .schema import corpus_features, scene_example
from .sizing import plan_shard_count, shard_bounds


def chunks(items: list, size: int) -> list[list]:
    """``items`` cut into consecutive lists of at most ``size``."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [items[i:i + size] for i in range(0, len(items), size)]


ROWS_PER_GROUP = 16  # parquet row group: small enough to stream the first rows fast


@dataclass(frozen=True)
class ShardJob:
    """One parquet file of the corpus: rows ``[start, stop)`` of a config's split."""

    config: str
    split: str
    index: int
    count: int
    start: int
    stop: int

    @property
    def path(self) -> str:
        return f"data/{self.config}/{self.split}-{self.index:05d}-of-{self.count:05d}.parquet"

    @property
    def record_path(self) -> str:
        return f".sarl/shards/{self.config}/{Path(self.path).stem}.json"


def shard_jobs(plan: CorpusPlan, bank: SourceBank) -> tuple[list[ShardJob], dict]:
    """Every shard of the corpus, in a fixed order, and the specs of each (config, split)."""
    jobs, specs = [], {}
    for config in plan.configs():
        for split in SPLITS:
            found = plan.specs(config, split, bank)
            if not found:
                continue
            specs[config, split] = found
            bounds = shard_bounds(len(found), plan_shard_count(plan, config, len(found)))
            jobs.extend(ShardJob(config, split, k, len(bounds), start, stop)
                        for k, (start, stop) in enumerate(bounds))
    return jobs, specs


#: Key of the parquet metadata that names the plan a data file belongs to.
PLAN_METADATA_KEY = b"sarl_hf"


def shard_schema(features, plan_digest: str):
    """The Arrow schema of a data file: the features' (with ``datasets``' own metadata)
    and the digest of the plan that wrote it."""
    schema = features.arrow_schema
    tag = json.dumps({"plan_digest": plan_digest}, sort_keys=True).encode()
    return schema.with_metadata({**(schema.metadata or {}), PLAN_METADATA_KEY: tag})


def file_plan_digest(path) -> str | None:
    """The plan digest a data file carries (its parquet metadata), or None when it carries
    none or is not a readable parquet file."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[PLAN_METADATA_KEY])["plan_digest"]
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
        return None


def write_shard(path: Path, specs: list[SceneSpec], renderer: Renderer, features,
                on_scene=lambda: None, plan_digest: str = "") -> None:
    """Render ``specs`` into one parquet file, a row group at a time (flat memory)."""
    schema = shard_schema(features, plan_digest)

    def write(tmp):
        with pq.ParquetWriter(tmp, schema) as writer:
            for group in chunks(specs, ROWS_PER_GROUP):
                rows = []
                for spec in group:
                    scene = renderer.render(spec)
                    # already Arrow values (WAV bytes, level ints): no encode_example,
                    # which would import torch for the Audio feature in every worker
                    rows.append(scene_example(scene, renderer.bank.name))
                    on_scene()
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    atomic_write(path, write)


def _shard_record(out: Path, job: ShardJob, plan_digest: str) -> dict:
    path = out / job.path
    return {"path": job.path, "config": job.config, "split": job.split,
            "num_rows": job.stop - job.start, "num_bytes": path.stat().st_size,
            "sha256": sha256_file(path), "plan_digest": plan_digest}


def run_job(out: str, plan_dict: dict, bank: SourceBank, job: ShardJob, spec_dicts: list,
            progress=None) -> dict:
    """Render one shard and write its record; returns the record.

    ``progress`` is a callable called once per scene, or a queue that gets a 1 per scene
    (from a worker process).
    """
    plan = CorpusPlan.from_dict(plan_dict)
    on_scene = progress if callable(progress) else (
        (lambda: progress.put(1)) if progress is not None else (lambda: None))
    renderer = Renderer(bank=bank, mode=plan.mode, sofa_path=plan.sofa_path)
    features = corpus_features(FactorConfig.from_dict(plan.factors), bank.classes,
                               plan.sample_rate)
    specs = [SceneSpec.from_dict(d) for d in spec_dicts]
    write_shard(Path(out) / job.path, specs, renderer, features, on_scene, plan.digest())
    record = _shard_record(Path(out), job, plan.digest())
    write_json(Path(out) / job.record_path, record)
    return record


RECORD_KEYS = ("path", "config", "split", "num_rows", "num_bytes", "sha256", "plan_digest")


def read_record(out: Path, job: ShardJob):
    """The record of a finished shard, or None when there is none; a damaged record is
    reported with a warning and counts as none (the shard is rebuilt)."""
    path = out / job.record_path
    if not path.exists():
        return None
    try:
        record = read_json(path, "a shard record")
    except CorruptFile as error:
        warnings.warn(f"{error}; rebuilding {job.path}")
        return None
    if set(RECORD_KEYS) - {"plan_digest"} - set(record) or record["path"] != job.path:
        warnings.warn(f"{path} is not the record of {job.path}; rebuilding it")
        return None
    return record


def job_is_done(out: Path, job: ShardJob, plan_digest: str, verify: bool = True) -> bool:
    """Whether a shard is complete: its record exists, names the plan with ``plan_digest``
    and (``verify``) its checksum holds.

    A shard whose file is missing or whose checksum differs from its record is reported
    with a warning and counts as not done, so it is rebuilt.
    """
    record = read_record(out, job)
    if record is None or record.get("plan_digest") != plan_digest:
        return False
    path = out / job.path
    if not path.exists():
        warnings.warn(f"{job.path} is missing although it was recorded; rebuilding it")
        return False
    if path.stat().st_size != record["num_bytes"] or (verify and
                                                      sha256_file(path) != record["sha256"]):
        warnings.warn(f"{job.path} is corrupt (its checksum differs from the record); "
                      "rebuilding it")
        return False
    return True
