"""Write the SARL corpus as a hub-ready folder of parquet shards, resumably, in parallel.

Layout of ``out``::

    README.md                       dataset card (YAML: configs, features, splits); until
                                    the corpus is finished, a card through which
                                    ``load_dataset`` finds no data
    manifest.json                   every data file with its sha256, rows and bytes (last)
    data/<config>/<split>-XXXXX-of-YYYYY.parquet   each carries the plan's digest
    .sarl/plan.json                 the parameters (a second run must match them)
    .sarl/shards/<config>/<file>.json   one record per finished shard (sha256, rows, plan)
    .sarl.lock                      while a run writes the folder (who, since when)

The corpus is a fixed list of shard jobs (:func:`shard_jobs`); a shard's bytes depend only
on the plan and the shard, so the jobs may run in any order, in several processes
(``num_proc``) or as slices on several machines (``num_shards``/``shard_index``: job ``j``
belongs to slice ``j % num_shards``), and copying the slices' folders together gives the
corpus one run would. Each shard is written to a temporary file and renamed, then its
record is written; a shard counts as done when its record exists, names this plan and its
checksum matches, so a killed run loses at most the shards in progress and a corrupted
shard is rebuilt. A folder holds one plan: files of another plan, or files no plan wrote,
are refused by name, and so is a folder whose plan is gone. One run at a time holds the
folder (:func:`~sarl_hf.locks.folder_lock`). The card and manifest are written when every
shard is done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..acoustics.formats import make_format
from ..acoustics.rooms import SPEED_OF_SOUND_M_S
from ..checks import check_integer, check_memory
from ..errors import CorpusMismatch, ForeignFiles, ResumeRequired
from ..files import atomic_write, read_json, remove_partial_files, write_json
from ..locks import LOCK_NAME, folder_lock
from ..processes import watch_parent
from ..rendering.renderer import render_memory
from ..scene.balanced import SPEC_BYTES
from ..scene.factors import FactorConfig
from ..sources import SourceBank
from .card import dataset_card, incomplete_card
from .integrity import foreign_files
from .plan import MULTISOURCE_MAX_SOURCES, CorpusPlan
from .shards import ROWS_PER_GROUP, ShardJob, job_is_done, read_record, run_job, shard_jobs
from .sizing import check_plan_rows

logger = logging.getLogger(__name__)


def check_plan(out: Path, plan: CorpusPlan, resume: bool) -> None:
    """Store the plan in a new folder; in a used one, require ``resume`` and the same plan.

    A folder that holds corpus files but no plan (it was deleted) is refused: the plan is
    never inferred from the arguments.
    """
    path = out / ".sarl" / "plan.json"
    if path.exists():
        stored, wanted = read_json(path, "a corpus plan"), plan.to_dict()
        if stored != wanted:
            fields = sorted(k for k in set(stored) | set(wanted)
                            if stored.get(k) != wanted.get(k))
            raise CorpusMismatch(f"{out} holds a corpus made with other parameters ({path} "
                                 f"differs in {', '.join(fields)})")
        if not resume:
            raise ResumeRequired(f"{out} already holds (part of) this corpus; resume to "
                                 "finish or check it")
        return
    found = _corpus_files(out)
    if found:
        raise CorpusMismatch(f"{out} holds corpus files ({found[0]}, ...) but no "
                             ".sarl/plan.json: the plan that made them is lost, so they can "
                             "be neither checked nor finished")
    if any(p.name != LOCK_NAME for p in out.iterdir()) and not (out / ".sarl").exists():
        raise ValueError(f"{out} is not empty and holds no SARL corpus; use an empty folder")
    write_json(path, plan.to_dict())


def _corpus_files(out: Path) -> list[str]:
    """Data files, shard records and the manifest of a folder (relative paths)."""
    found = [p for p in (out / "data").rglob("*") if p.is_file()]
    found += list((out / ".sarl" / "shards").rglob("*.json"))
    found += [out / "manifest.json"] if (out / "manifest.json").exists() else []
    return sorted(p.relative_to(out).as_posix() for p in found)


def check_foreign_files(out: Path, plan: CorpusPlan, jobs: list) -> None:
    """Refuse a folder that holds files this plan did not write; warn about the outdated
    shards of an older ``sarl_hf`` (they are rebuilt)."""
    foreign, outdated = foreign_files(out, plan.digest(), jobs)
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise ForeignFiles(f"{out} holds {len(foreign)} file(s) that this corpus's plan "
                           f"({plan.digest()}) did not write: {', '.join(foreign[:5])}{more};"
                           " remove them", foreign)
    for name in outdated:
        warnings.warn(f"{name} was written by an older sarl_hf (no plan digest); rebuilding "
                      "it")


def check_generation_memory(plan: CorpusPlan, bank: SourceBank, num_proc: int) -> None:
    """Refuse, by arithmetic, a corpus whose design or scenes would not fit in memory: the
    specs of every scene (held while the shards are handed out) and, per process, one
    scene being rendered and one row group of WAV bytes."""
    channels = max(make_format(f, sofa_path=plan.sofa_path).num_channels
                   for f in plan.formats)
    samples = int(round(plan.duration_s * plan.sample_rate))
    factors = FactorConfig.from_dict(plan.factors)
    taps = int((max(factors.distance_levels_m) / SPEED_OF_SOUND_M_S
                + max(factors.rt60_levels_s)) * plan.sample_rate) + 256
    per_process = render_memory(channels, samples, taps) + 3 * ROWS_PER_GROUP * 4 * (
        channels * samples)
    variants = sum(factors.level_counts(tuple(bank.classes)).values())
    rows = (plan.scenes + plan.multisource_scenes + plan.sensitivity_anchors * variants
            ) * len(plan.formats)
    check_memory(f"the corpus ({rows} scenes of {plan.duration_s:g} s at "
                 f"{plan.sample_rate} Hz, {num_proc} process(es))",
                 rows * SPEC_BYTES * MULTISOURCE_MAX_SOURCES + num_proc * per_process,
                 "lower scenes, duration_s, sample_rate or num_proc")


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
    """Run the shard jobs ``todo``, in ``num_proc`` processes, with one progress bar (by
    scene in one process, by shard in several).

    A job's spec dicts are built only when it is handed out, and at most two jobs per
    process wait at a time, so memory does not grow with the corpus. Worker processes end
    with this one, however it ends (:func:`~sarl_hf.processes.watch_parent`).
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
        stop = context.Event()
        with ProcessPoolExecutor(num_proc, context, initializer=watch_parent,
                                 initargs=(os.getpid(), stop)) as pool:
            try:
                _run_in_pool(pool, num_proc, todo, lambda job: (
                    str(out), plan.to_dict(), bank, job, spec_dicts(job)), bar)
            except BaseException:
                stop.set()  # the workers stop now, removing the files they were writing
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        bar.close()


def _run_in_pool(pool, num_proc: int, todo, arguments, bar) -> None:
    """Hand out the jobs (largest first, so the processes finish together), at most two
    waiting per process; the bar moves by a job's scenes when it is done."""
    waiting, limit = {}, 2 * num_proc
    for job in sorted(todo, key=lambda j: j.start - j.stop):
        if len(waiting) >= limit:
            _collect(waiting, bar, FIRST_COMPLETED)
        waiting[pool.submit(_worker_job, *arguments(job))] = job
    while waiting:
        _collect(waiting, bar, FIRST_COMPLETED)


def _collect(waiting: dict, bar, how) -> None:
    done, _ = wait(list(waiting), return_when=how)
    for future in done:
        job = waiting.pop(future)
        future.result()
        bar.update(job.stop - job.start)


def _worker_job(*arguments) -> dict:
    """:func:`run_job` in a worker process: interrupted (its parent gone or stopping), it
    removes its partial file and ends the process at once."""
    try:
        return run_job(*arguments)
    except KeyboardInterrupt:
        os._exit(1)


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
    num_proc = check_integer("num_proc", num_proc, 1)
    num_shards = check_integer("num_shards", num_shards, 1)
    if check_integer("shard_index", shard_index, 0) >= num_shards:
        raise ValueError(f"need num_shards >= 1 and 0 <= shard_index < num_shards, got "
                         f"num_shards={num_shards}, shard_index={shard_index}")
    if plan.bank != bank.to_dict():
        raise ValueError(f"plan.bank {plan.bank} does not describe bank {bank.to_dict()}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} is a file; give a folder (new, empty, or one that holds "
                         "this corpus)")
    check_plan_rows(plan)
    check_generation_memory(plan, bank, num_proc)
    start = time.perf_counter()
    with folder_lock(out, f"sarl generate: writing the corpus {plan.digest()}"):
        report = _generate_locked(out, plan, bank, num_proc, num_shards, shard_index,
                                  resume, progress)
    report.elapsed_s = time.perf_counter() - start
    return report


def _generate_locked(out: Path, plan, bank, num_proc, num_shards, shard_index, resume,
                     progress) -> GenerateReport:
    """:func:`generate` once the folder's lock is held."""
    check_plan(out, plan, resume)
    remove_partial_files(out)  # left by an interrupted run
    jobs, specs = shard_jobs(plan, bank)
    check_foreign_files(out, plan, jobs)
    mine = [job for j, job in enumerate(jobs) if j % num_shards == shard_index]
    report = GenerateReport()
    todo = []
    for job in mine:
        (report.reused if job_is_done(out, job, plan.digest()) else todo).append(job)
    report.reused = [job.path for job in report.reused]
    mine_set = set(mine)
    report.missing = [job.path for job in jobs if job not in mine_set
                      and not job_is_done(out, job, plan.digest(), verify=False)]
    if todo or report.missing or not (out / "manifest.json").exists():
        mark_unfinished(out, plan, len(jobs) - len(todo) - len(report.missing), len(jobs))
    if todo:
        _render_jobs(out, plan, bank, todo, specs, min(num_proc, max(len(todo), 1)), progress)
    else:  # nothing to render: say so, not an empty progress bar
        logger.info("corpus %s: cached (%d shard(s) found complete)", out, len(report.reused))
    report.rendered = [job.path for job in todo]
    report.scenes_rendered = sum(job.stop - job.start for job in todo)
    if not report.missing:
        finalise(out, plan, bank, jobs)
        report.complete = True
    return report


def mark_unfinished(out: Path, plan: CorpusPlan, done: int, total: int) -> None:
    """Make the folder say it is not finished: the card of an unfinished corpus (which
    ``load_dataset`` reads no data through) and no manifest."""
    (out / "manifest.json").unlink(missing_ok=True)
    atomic_write(out / "README.md", incomplete_card(plan, done, total))


def finalise(out: Path, plan: CorpusPlan, bank: SourceBank, jobs: list[ShardJob]) -> None:
    """Write ``manifest.json`` and the dataset card from the shard records."""
    records = [read_record(out, job) for job in jobs]
    manifest = {"plan": plan.to_dict(), "plan_digest": plan.digest(), "files": records}
    atomic_write(out / "README.md", dataset_card(plan, bank, records))
    write_json(out / "manifest.json", manifest)  # last: the folder is complete
