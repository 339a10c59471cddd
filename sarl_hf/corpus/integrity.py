"""What makes a corpus folder trustworthy, checked: one plan, every file recorded, every
byte read matching its checksum.

- Every data file carries the digest of the plan that wrote it (parquet metadata) and so
  does its shard record; a folder holds the files of one plan only
  (:func:`foreign_files`).
- ``manifest.json`` lists every data file with its sha256; a reader hashes a shard as it
  reads it (:func:`open_shard`), so a changed byte is an error naming the file, never a
  different result.
- :func:`corpus_problems` checks a whole folder (``sarl verify``); ``datasets.load_dataset``
  itself checks none of this.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CorruptFile, IncompleteCorpus
from ..files import PARTIAL_SUFFIX, check_sha256, read_json, sha256_file
from .card import INCOMPLETE_MARK
from .plan import CorpusPlan
from .shards import RECORD_KEYS, ShardJob, file_plan_digest, read_record

__all__ = ["read_manifest", "manifest_records", "open_shard", "foreign_files",
           "corpus_problems", "verify_corpus"]

MANIFEST = "manifest.json"


def read_manifest(folder) -> dict:
    """The manifest of a finished corpus folder: ``plan``, ``plan_digest``, ``files``.

    IncompleteCorpus when the folder has none (not finished); CorruptFile naming it when it
    is not a manifest.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise IncompleteCorpus(f"{folder} has no {MANIFEST}: not a finished corpus")
    manifest = read_json(path, "a corpus manifest")
    files = manifest.get("files")
    if not isinstance(manifest.get("plan"), dict) or not isinstance(files, list) or not all(
            isinstance(r, dict) and set(RECORD_KEYS) - {"plan_digest"} <= set(r)
            for r in files):
        raise CorruptFile(f"{path} is not a corpus manifest: it needs 'plan' and 'files' "
                          f"(records with {RECORD_KEYS})", path)
    return manifest


def manifest_records(manifest: dict, config: str, split: str | None = None) -> list[dict]:
    """The manifest's records of one config (and split), in path order."""
    return sorted((r for r in manifest["files"] if r["config"] == config
                   and split in (None, r["split"])), key=lambda r: r["path"])


def open_shard(folder, record: dict) -> pq.ParquetFile:
    """A data file of the corpus, memory-mapped and hashed as it is read; CorruptFile
    naming it unless its sha256 is the one ``record`` (its manifest entry) holds."""
    path = Path(folder) / record["path"]
    if not path.is_file():
        raise CorruptFile(f"{path} is listed in {MANIFEST} but missing", path)
    buffer = pa.memory_map(str(path)).read_buffer()
    check_sha256(path, hashlib.sha256(memoryview(buffer)).hexdigest(), record["sha256"],
                 MANIFEST)
    return pq.ParquetFile(pa.BufferReader(buffer))


def _relative(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def _data_files(folder: Path) -> list[Path]:
    """Every file under ``data/`` but the temporary ones of an interrupted write."""
    return sorted(p for p in (folder / "data").rglob("*")
                  if p.is_file() and not p.name.endswith(PARTIAL_SUFFIX))


def foreign_files(out, plan_digest: str, jobs: list[ShardJob]) -> tuple[list, list]:
    """The files of a corpus folder that the plan with ``plan_digest`` did not write.

    Returns
    -------
    foreign : list of str
        Data files and shard records of another plan, or that no plan wrote (a file dropped
        into ``data/``), relative to ``out``.
    outdated : list of str
        Shards an older ``sarl_hf`` wrote for this folder (recorded, checksums intact, no
        plan digest yet): they are rebuilt.
    """
    out = Path(out)
    by_path = {job.path: job for job in jobs}
    records = {job.record_path: job for job in jobs}
    foreign, outdated = [], []
    for path in _data_files(out):
        name = _relative(out, path)
        job = by_path.get(name)
        if job is None:
            foreign.append(name)
            continue
        verdict = _shard_verdict(out, job, plan_digest)
        (foreign if verdict == "foreign" else outdated if verdict == "outdated" else []
         ).append(name)
    for path in sorted((out / ".sarl" / "shards").rglob("*.json")):
        name = _relative(out, path)
        job = records.get(name)
        record = read_record(out, job) if job is not None else None
        if job is None or (record or {}).get("plan_digest", plan_digest) != plan_digest:
            foreign.append(name)
    return sorted(foreign), outdated


def _shard_verdict(out: Path, job: ShardJob, plan_digest: str) -> str:
    """``ours``, ``foreign`` or ``outdated`` for the data file at a job's path."""
    record = read_record(out, job)
    carried = file_plan_digest(out / job.path)
    if record is not None and record.get("plan_digest") not in (None, plan_digest):
        return "foreign"
    if carried == plan_digest:
        return "ours"
    if record is not None and record.get("plan_digest") == plan_digest and carried is None:
        return "ours"  # recorded by this plan, damaged since: rebuilt as corrupt
    if carried is None and record is not None and record.get("plan_digest") is None \
            and sha256_file(out / job.path) == record["sha256"]:
        return "outdated"
    return "foreign"


def _manifest_problems(folder: Path, manifest: dict) -> list[str]:
    plan = CorpusPlan.from_dict(manifest["plan"])
    digest, problems = plan.digest(), []
    listed = set()
    for record in manifest["files"]:
        listed.add(record["path"])
        path = folder / record["path"]
        if not path.is_file():
            problems.append(f"{record['path']}: listed in {MANIFEST} but missing")
        elif sha256_file(path) != record["sha256"]:
            problems.append(f"{record['path']}: does not match its checksum (sha256) in "
                            f"{MANIFEST}: the file changed after it was written")
        elif record.get("plan_digest", digest) != digest or file_plan_digest(path) != digest:
            problems.append(f"{record['path']}: not written by this corpus's plan "
                            f"({digest})")
    for path in _data_files(folder):
        if _relative(folder, path) not in listed:
            problems.append(f"{_relative(folder, path)}: not in {MANIFEST} (a file this "
                            "corpus did not write)")
    stored = folder / ".sarl" / "plan.json"
    if stored.exists() and read_json(stored, "a corpus plan") != manifest["plan"]:
        problems.append(f".sarl/plan.json differs from the plan in {MANIFEST}")
    return problems


def corpus_problems(folder) -> list[str]:
    """Everything wrong with a corpus folder, one line each (none: it is complete, every
    file matches ``manifest.json`` and every data file carries the corpus's plan)."""
    folder = Path(folder)
    problems = [f"{_relative(folder, p)}: a temporary file an interrupted run left"
                for p in sorted(folder.rglob(f".*{PARTIAL_SUFFIX}"))]
    try:
        manifest = read_manifest(folder)
    except IncompleteCorpus:
        done = len(list((folder / ".sarl" / "shards").rglob("*.json")))
        return problems + [f"no {MANIFEST}: the corpus is not finished ({done} shards "
                           "recorded); finish its generation (resume it)"]
    except CorruptFile as error:
        return problems + [str(error)]
    problems += _manifest_problems(folder, manifest)
    card = folder / "README.md"
    if not card.is_file():
        problems.append("README.md (the dataset card) is missing")
    elif INCOMPLETE_MARK in card.read_text(encoding="utf-8", errors="replace"):
        problems.append("README.md is the card of an unfinished corpus")
    return problems


def verify_corpus(folder) -> list[dict]:
    """Check that ``folder`` is a complete corpus whose files match ``manifest.json``.

    Returns the manifest's file records; raises ``ValueError`` naming everything that is
    missing, corrupt or unlisted (IncompleteCorpus for an unfinished folder).
    """
    manifest = read_manifest(folder)
    problems = corpus_problems(folder)
    if problems:
        raise ValueError(f"{folder}: " + "; ".join(problems))
    return manifest["files"]
