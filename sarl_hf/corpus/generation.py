"""Write the SARL corpus as a hub-ready folder of parquet shards, resumably, in parallel.

Layout of ``out``::

    README.md                       dataset card (YAML: configs, features, splits)
    manifest.json                   every data file with its sha256, rows and bytes
    data/<config>/<split>-XXXXX-of-YYYYY.parquet
    .sarl/plan.json                 the parameters (a second run must match them)
    .sarl/shards/<config>/<file>.json   one record per finished shard (sha256, rows)

The corpus is a fixed list of shard jobs (:func:`shard_jobs`); a shard's bytes depend only
on the plan and the shard, so the jobs may run in any order, in several processes
(``num_proc``) or as slices on several machines (``num_shards``/``shard_index``: job ``j``
belongs to slice ``j % num_shards``), and copying the slices' folders together gives the
corpus one run would. Each shard is written to a temporary file and renamed, then its
record is written; a shard counts as done when its record exists and its checksum
matches, so a killed run loses at most the shards in progress and a corrupted shard is
rebuilt. The card and manifest are written when every shard is done.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ..acoustics.formats import FORMATS
from ..acoustics.render import MODES, Renderer
from ..files import atomic_write, remove_partial_files, sha256_file, write_json
from ..scene.factors import FactorConfig
from ..scene.spec import SceneSpec
from ..sources import SourceBank
from ..splits import SPLITS
from .schema import CONFIGS, chunks, config_specs, corpus_features, scene_example, split_sizes

ROWS_PER_GROUP = 16  # parquet row group: small enough to stream the first rows fast


@dataclass
class CorpusPlan:
    """Everything that decides a corpus's bytes (with the bank it names).

    Attributes
    ----------
    scenes : int
        Scenes of every format config, split 60/20/20 (``dataset.split_sizes``).
    formats : tuple of str
        Format configs to write; also the formats of the multisource and sensitivity rows.
    seed : int
    sample_rate : int
        Hz.
    duration_s : float
    multisource_scenes : int
        Scenes of the ``multisource`` config (split 60/20/20); 0 leaves it out.
    sensitivity_anchors : int
        Anchor scenes of the ``sensitivity`` config (test split); 0 leaves it out.
    scenes_per_shard : int
        Rows per parquet file at most.
    mode : str
        Renderer mode.
    bank : dict
        ``SourceBank.to_dict()`` of the dry clips.
    factors : dict
        ``FactorConfig.to_dict()``.
    sofa_path : str or None
        HRTF of the binaural format (default MIT KEMAR).
    """

    scenes: int = 1000
    formats: tuple = FORMATS
    seed: int = 0
    sample_rate: int = 16000
    duration_s: float = 4.0
    multisource_scenes: int = 250
    sensitivity_anchors: int = 10
    scenes_per_shard: int = 500
    mode: str = "fast"
    bank: dict = field(default_factory=dict)
    factors: dict = field(default_factory=lambda: FactorConfig().to_dict())
    sofa_path: str | None = None

    def __post_init__(self):
        self.formats = tuple(self.formats)
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats: unknown {unknown}; choose from {FORMATS}")
        for name in ("scenes", "multisource_scenes", "sensitivity_anchors"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer, "
                                 f"got {getattr(self, name)!r}")
        if self.scenes_per_shard < 1:
            raise ValueError(f"scenes_per_shard must be >= 1, got {self.scenes_per_shard}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))  # as it reads back: lists, not tuples

    @classmethod
    def from_dict(cls, d: dict) -> "CorpusPlan":
        return cls(**d)

    def split_size(self, config: str, split: str) -> int:
        """Scenes (anchors for ``sensitivity``) of one config's split."""
        if config == "sensitivity":
            return self.sensitivity_anchors if split == "test" else 0
        return split_sizes(self.multisource_scenes if config == "multisource"
                           else self.scenes)[split]

    def configs(self) -> list[str]:
        """Configs this plan writes, in order."""
        return [c for c in CONFIGS if c in self.formats or
                any(self.split_size(c, s) for s in SPLITS) and c not in FORMATS]

    def specs(self, config: str, split: str, bank: SourceBank) -> list[SceneSpec]:
        return config_specs(config, split, self.split_size(config, split), self.seed,
                            FactorConfig.from_dict(self.factors), bank, self.formats,
                            self.sample_rate, self.duration_s)


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
            bounds = chunks(list(range(len(found))), plan.scenes_per_shard)
            jobs.extend(ShardJob(config, split, k, len(bounds), b[0], b[-1] + 1)
                        for k, b in enumerate(bounds))
    return jobs, specs


def write_shard(path: Path, specs: list[SceneSpec], renderer: Renderer, features,
                on_scene=lambda: None) -> None:
    """Render ``specs`` into one parquet file, a row group at a time (flat memory)."""
    schema = features.arrow_schema

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


def _shard_record(out: Path, job: ShardJob) -> dict:
    path = out / job.path
    return {"path": job.path, "config": job.config, "split": job.split,
            "num_rows": job.stop - job.start, "num_bytes": path.stat().st_size,
            "sha256": sha256_file(path)}


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
    write_shard(Path(out) / job.path, specs, renderer, features, on_scene)
    record = _shard_record(Path(out), job)
    write_json(Path(out) / job.record_path, record)
    return record


def _read_record(out: Path, job: ShardJob):
    path = out / job.record_path
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except json.JSONDecodeError:
        return None


def job_is_done(out: Path, job: ShardJob, verify: bool = True) -> bool:
    """Whether a shard is complete: its record exists and (``verify``) its checksum holds.

    A shard whose file is missing or whose checksum differs from its record is reported
    with a warning and counts as not done, so it is rebuilt.
    """
    record = _read_record(out, job)
    if record is None:
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


def check_plan(out: Path, plan: CorpusPlan, resume: bool) -> None:
    """Store the plan in a new folder; in a used one, require ``resume`` and the same plan."""
    path = out / ".sarl" / "plan.json"
    if path.exists():
        if json.loads(path.read_text()) != plan.to_dict():
            raise ValueError(f"{out} holds a corpus made with other parameters ({path}); "
                             "use another --out or remove it")
        if not resume:
            raise ValueError(f"{out} already holds (part of) this corpus; pass --resume to "
                             "finish or check it")
        return
    if out.exists() and any(out.iterdir()) and not (out / ".sarl").exists():
        raise ValueError(f"{out} is not empty and holds no SARL corpus; use an empty folder")
    write_json(path, plan.to_dict())


@dataclass
class GenerateReport:
    """What a ``generate`` call did."""

    rendered: list = field(default_factory=list)  # shard paths written by this call
    reused: list = field(default_factory=list)  # shard paths found complete
    missing: list = field(default_factory=list)  # shards of other slices not there yet
    scenes_rendered: int = 0
    elapsed_s: float = 0.0
    complete: bool = False  # card and manifest written


def _render_jobs(out: Path, plan: CorpusPlan, bank, todo, specs, num_proc, progress):
    """Run the shard jobs ``todo``, in ``num_proc`` processes, with one progress bar.

    A job's spec dicts are built only when it is handed out, and at most two jobs per
    process wait at a time, so memory does not grow with the corpus.
    """
    total = sum(job.stop - job.start for job in todo)
    bar = tqdm(total=total, desc="generating", unit="scene", disable=not progress)

    def spec_dicts(job):
        return [s.to_dict() for s in specs[job.config, job.split][job.start:job.stop]]

    try:
        if num_proc == 1:
            for job in todo:
                run_job(str(out), plan.to_dict(), bank, job, spec_dicts(job),
                        lambda: bar.update(1))
            return
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager, ProcessPoolExecutor(num_proc, context) as pool:
            updates = manager.Queue()
            stop = threading.Event()
            reader = threading.Thread(target=_drain, args=(updates, bar, stop), daemon=True)
            reader.start()
            try:
                waiting = set()
                # largest shards first, so the processes finish together
                for job in sorted(todo, key=lambda j: j.start - j.stop):
                    if len(waiting) >= 2 * num_proc:
                        done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    waiting.add(pool.submit(run_job, str(out), plan.to_dict(), bank, job,
                                            spec_dicts(job), updates))
                for future in waiting:
                    future.result()
            finally:
                stop.set()
                reader.join()
    finally:
        bar.close()


def _drain(updates, bar, stop):
    while not stop.is_set() or not updates.empty():
        try:
            bar.update(updates.get(timeout=0.1))
        except Exception:  # queue.Empty, or the manager closing
            continue


def generate(out, plan: CorpusPlan, bank: SourceBank, *, num_proc: int = 1,
             num_shards: int = 1, shard_index: int = 0, resume: bool = False,
             progress: bool = True) -> GenerateReport:
    """Write (or finish) the corpus ``plan`` describes into ``out``.

    Parameters
    ----------
    out : str or Path
    plan : CorpusPlan
    bank : SourceBank
        The bank ``plan.bank`` describes.
    num_proc : int
        Processes that render shards in parallel.
    num_shards, shard_index : int
        Render only slice ``shard_index`` of ``num_shards`` (shard job ``j`` belongs to
        slice ``j % num_shards``): run every slice, anywhere, and gather the folders.
    resume : bool
        Continue a folder that already holds part of this corpus, checking every
        finished shard's checksum and rebuilding what is missing or corrupt.
    progress : bool
        Show a progress bar with scenes per second.

    Returns
    -------
    GenerateReport
    """
    if num_proc < 1:
        raise ValueError(f"num_proc must be >= 1, got {num_proc}")
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(f"need num_shards >= 1 and 0 <= shard_index < num_shards, got "
                         f"num_shards={num_shards}, shard_index={shard_index}")
    if plan.bank != bank.to_dict():
        raise ValueError(f"plan.bank {plan.bank} does not describe bank {bank.to_dict()}")
    out = Path(out)
    start = time.perf_counter()
    check_plan(out, plan, resume)
    remove_partial_files(out)  # left by an interrupted run
    jobs, specs = shard_jobs(plan, bank)
    mine = [job for j, job in enumerate(jobs) if j % num_shards == shard_index]
    report = GenerateReport()
    todo = []
    for job in mine:
        (report.reused if job_is_done(out, job) else todo).append(job)
    report.reused = [job.path for job in report.reused]
    _render_jobs(out, plan, bank, todo, specs, min(num_proc, max(len(todo), 1)), progress)
    report.rendered = [job.path for job in todo]
    report.scenes_rendered = sum(job.stop - job.start for job in todo)
    mine_set = set(mine)
    report.missing = [job.path for job in jobs
                      if job not in mine_set and not job_is_done(out, job, verify=False)]
    if not report.missing:
        finalise(out, plan, bank, jobs)
        report.complete = True
    report.elapsed_s = time.perf_counter() - start
    return report


def finalise(out: Path, plan: CorpusPlan, bank: SourceBank, jobs: list[ShardJob]) -> None:
    """Write ``manifest.json`` and the dataset card from the shard records."""
    from .card import dataset_card

    records = [_read_record(out, job) for job in jobs]
    manifest = {"plan": plan.to_dict(), "files": records}
    write_json(out / "manifest.json", manifest)
    atomic_write(out / "README.md", dataset_card(plan, bank, records))


SUMMARY_COLUMNS = ("channel_format", "azimuth", "elevation", "distance", "class", "rt60",
                   "volume", "shape", "rt60_s", "rt60_target_s", "drr_db")


def label_rows(out, formats) -> list[dict]:
    """The label columns (no audio) of the format configs of a corpus folder, one dict
    per row with its ``split``: what ``corpus.summarise`` reads."""
    rows = []
    for fmt in formats:
        for split in SPLITS:
            for path in sorted(Path(out).glob(f"data/{fmt}/{split}-*.parquet")):
                table = pq.read_table(path, columns=list(SUMMARY_COLUMNS))
                rows.extend(dict(row, split=split) for row in table.to_pylist())
    return rows
