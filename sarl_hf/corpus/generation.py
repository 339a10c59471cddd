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
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import CorpusMismatch, ResumeRequired
from ..files import atomic_write, remove_partial_files, write_json
from ..sources import SourceBank
from .card import dataset_card
from .plan import CorpusPlan
from .shards import ShardJob, job_is_done, read_record, run_job, shard_jobs


def check_plan(out: Path, plan: CorpusPlan, resume: bool) -> None:
    """Store the plan in a new folder; in a used one, require ``resume`` and the same plan."""
    path = out / ".sarl" / "plan.json"
    if path.exists():
        if json.loads(path.read_text()) != plan.to_dict():
            raise CorpusMismatch(f"{out} holds a corpus made with other parameters ({path})")
        if not resume:
            raise ResumeRequired(f"{out} already holds (part of) this corpus; resume to "
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
    records = [read_record(out, job) for job in jobs]
    manifest = {"plan": plan.to_dict(), "files": records}
    write_json(out / "manifest.json", manifest)
    atomic_write(out / "README.md", dataset_card(plan, bank, records))
