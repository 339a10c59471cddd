"""``sarl bench``: the whole benchmark, from corpus to report.

Generate (or reuse) the corpus, embed it with each encoder (cached by fingerprints), probe
every layer on the seven tasks, run the sensitivity analysis, score audio–text retrieval
for encoders with a text tower (on the multisource scenes), record every encoder's
metadata, and write ``results.json``,
``results.md`` and the plots (``sarl_hf.results.report``). Every stage reuses what an earlier
run left, so a rerun after an interruption, or with one more encoder, redoes only what is
missing.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..checks import check_device, check_integer, default_device
from ..corpus.generation import generate
from ..corpus.plan import CorpusPlan, split_sizes
from ..embeddings.cache import load_embeddings, read_success
from ..embeddings.embed import embed_corpus
from ..encoders import load_encoder
from ..encoders.metadata import input_configuration
from ..encoders.registry import check_loadable
from ..errors import CorruptFile
from ..files import atomic_write, json_digest, read_json
from ..locks import folder_lock
from ..probing.multisource import probe_multisource
from ..probing.protocol import GRID, MIN_SPLIT_ROWS, PROTOCOL_VERSION, probe
from ..probing.retrieval import retrieval_from_cache
from ..probing.sensitivity_analysis import check_anchor_count, sensitivity_from_cache
from ..probing.tasks import TASK_NAMES, TASKS
from ..scene.factors import SOURCE_FACTORS, FactorConfig
from ..splits import SPLITS
from .report import write_report
from .selection import best_by_validation

DEFAULT_ENCODERS = ("sarl-logmel", "sarl-spatial", "crepe-tiny", "silero-vad")
# Version of the stored probe results. 2: keys in model order (1 sorted them, which made
# the first-layer tie rule alphabetical), so version-1 files are not reused. 3: the results
# stored with their sha256, checked when read.
CACHE_FORMAT = 3
#: Fewest scenes whose 60/20/20 splits each hold MIN_SPLIT_ROWS rows.
PROBE_MIN_SCENES = 8

logger = logging.getLogger(__name__)


def _labels(table) -> dict:
    columns = {TASKS[t].label for t in TASK_NAMES} | {TASKS[t].value for t in TASK_NAMES
                                                       if TASKS[t].value}
    return {c: np.array(table.column(c).to_numpy(zero_copy_only=False)) for c in columns}


@contextmanager
def _stage(what: str):
    """One line when a stage starts and one when it ends, with its time (``logging``)."""
    start = time.perf_counter()
    logger.info("%s ...", what)
    yield
    logger.info("%s: done in %.1f s", what, time.perf_counter() - start)


def _cached(path: Path, compute, what: str = "results"):
    """The results stored at ``path``, or ``compute()`` stored there atomically with the
    sha256 of its canonical JSON; a stored file that is not such a record, or whose results
    do not match their checksum (a changed digit is valid JSON), is reported with a warning
    and computed again. ``what`` names the stage in the log: "cached", or its start and
    end.

    Keys keep their order (layers in model order, tasks in the design's order): the
    report and the "first layer wins a tie" rule read them in that order.
    """
    if path.exists():
        try:
            value = _stored_results(path)
            logger.info("%s: cached (%s)", what, path.name)
            return value
        except CorruptFile as error:
            warnings.warn(f"{error}; computing the results again")
    with _stage(what):
        value = json.loads(json.dumps(compute(), default=_json_default))
    atomic_write(path, json.dumps({"results": value, "sha256": json_digest(value, 64)}))
    return value


def _stored_results(path: Path):
    stored = read_json(path, "stored probe results")
    if set(stored) != {"results", "sha256"}:
        raise CorruptFile(f"{path} is not stored probe results: it needs the keys results "
                          f"and sha256, got {sorted(stored)[:5]}", path)
    if json_digest(stored["results"], 64) != stored["sha256"]:
        raise CorruptFile(f"{path} does not match its sha256: the file changed after it "
                          "was written", path)
    return stored["results"]


def _settings_key(folder, key: str, splits=SPLITS, **settings) -> str:
    """Digest of the probe's settings and of the embeddings it reads (their parts'
    checksums), so stored results are reused only for the same embeddings."""
    parts = [read_success(Path(folder) / key / s)["parts"] for s in splits]
    return json_digest(dict(settings, grid=GRID, protocol=PROTOCOL_VERSION, cache=CACHE_FORMAT,
                            embeddings=json_digest(parts)))


def probe_layers(folder, config: str, num_classes: dict, n_boot: int, seed: int,
                 device: str, stage: str = "probe") -> dict:
    """Probe every layer of an embedding cache: ``{layer: {task: metrics}}``.

    The result is stored next to the embeddings, keyed by the probe's settings, and
    read back by a later run with the same settings. ``stage`` names it in the log.
    """
    def compute():
        per_split = {s: load_embeddings(folder, config, s) for s in SPLITS}
        labels = {s: _labels(per_split[s][1]) for s in SPLITS}
        return {layer: probe({s: per_split[s][0][layer] for s in SPLITS}, labels,
                             num_classes=num_classes, n_boot=n_boot, seed=seed, device=device)
                for layer in per_split["train"][0]}

    key = _settings_key(folder, config, n_boot=n_boot, seed=seed, num_classes=num_classes)
    return _cached(Path(folder) / config / f"probe-{key}.json", compute, stage)


def probe_mlp_best(folder, config: str, best_layer: dict, num_classes: dict, n_boot: int,
                   seed: int, device: str, stage: str = "MLP probe") -> dict:
    """The MLP probe of each task at the layer the linear probe chose for it on
    validation: ``{task: metrics}`` (with ``layer``), cached like :func:`probe_layers`."""
    def compute():
        per_split = {s: load_embeddings(folder, config, s) for s in SPLITS}
        labels = {s: _labels(per_split[s][1]) for s in SPLITS}
        out = {}
        for layer in sorted(set(best_layer.values())):
            tasks = [t for t in TASK_NAMES if best_layer[t] == layer]
            results = probe({s: per_split[s][0][layer] for s in SPLITS}, labels, tasks=tasks,
                            num_classes=num_classes, n_boot=n_boot, seed=seed, device=device,
                            model="mlp")
            out.update({t: dict(results[t], layer=layer) for t in tasks})
        return out

    key = _settings_key(folder, config, n_boot=n_boot, seed=seed, num_classes=num_classes,
                        model="mlp", layers=best_layer)
    return _cached(Path(folder) / config / f"probe-mlp-{key}.json", compute, stage)


def probe_multisource_layers(folder, channel_format: str, num_classes: dict, n_boot: int,
                             seed: int, device: str, stage: str = "multisource probe") -> dict:
    """Assignment-scored probe (``sarl_hf.probing.multisource``) of every layer of a multisource
    embedding cache: ``{layer: {factor: metrics}}``, cached like :func:`probe_layers`."""
    factors = {f: num_classes[f] for f in SOURCE_FACTORS}

    def compute():
        per_split = {s: load_embeddings(folder, "multisource", s, channel_format=channel_format)
                     for s in SPLITS}
        sources = {s: per_split[s][1].column("sources").to_pylist() for s in SPLITS}
        return {layer: probe_multisource({s: per_split[s][0][layer] for s in SPLITS}, sources,
                                         factors, n_boot=n_boot, seed=seed, device=device)
                for layer in per_split["train"][0]}

    key = _settings_key(folder, f"multisource-{channel_format}", n_boot=n_boot, seed=seed,
                        num_classes=factors)
    return _cached(Path(folder) / f"multisource-{channel_format}" / f"probe-{key}.json",
                   compute, stage)


def retrieval_of(folder, channel_format: str, encoder, n_boot: int, seed: int,
                 stage: str = "retrieval") -> dict:
    """Audio–text retrieval (``sarl_hf.probing.retrieval``) of an encoder with a text tower
    on its multisource embedding cache, cached like :func:`probe_layers`."""
    key = _settings_key(folder, f"multisource-{channel_format}", n_boot=n_boot, seed=seed,
                        retrieval=encoder.text_layer)
    return _cached(Path(folder) / f"multisource-{channel_format}" / f"retrieval-{key}.json",
                   lambda: retrieval_from_cache(folder, channel_format, encoder, n_boot=n_boot,
                                                seed=seed), stage)


def encoder_metadata(encoder, channel_format: str) -> dict:
    """The encoder's metadata and the input configuration of this run."""
    metadata = encoder.metadata()
    return {**metadata, "input_configuration": input_configuration(metadata, channel_format)}


def best_layers(layers: dict) -> dict:
    """Per task, the layer with the best validation accuracy (ties: the first)."""
    return {task: best_by_validation(layers, task, "validation_accuracy")
            for task in TASK_NAMES}


def run_bench(out, plan: CorpusPlan, bank, encoders=DEFAULT_ENCODERS, configs=None,
              n_boot: int = 1000, seed: int = 0, device: str | None = None,
              progress: bool = True, mlp: bool = False, trust_remote_code: bool = False) -> dict:
    """Run the benchmark into ``out``; returns the results (also in ``results.json``).

    Parameters
    ----------
    out : str or Path
        ``out/corpus``, ``out/embeddings`` and the report files go here.
    plan : CorpusPlan
        The corpus; its formats are the configs probed unless ``configs`` is given.
    bank : SourceBank
    encoders : sequence of str
        Names for ``load_encoder``.
    configs : sequence of str, optional
        Format configs to probe (default: ``plan.formats``).
    n_boot, seed : int
        Bootstrap resamples and seed of the probe and the sensitivity intervals.
    device : str, optional
        Torch device of the encoders and the probe; default
        :func:`~sarl_hf.checks.default_device` (cuda when there is one, else cpu).
    progress : bool
        Progress bars (tqdm); the stages are logged (``logging``, logger
        ``sarl_hf.results.bench``) either way.
    mlp : bool
        Also run the MLP probe (``sarl_hf.probing.mlp``) of each task at the layer the
        linear probe chose for it (``mlp`` in each entry).
    trust_remote_code : bool
        Let Hub models run their own modelling code (``load_encoder``'s permission).

    Every entry holds ``metadata`` (:func:`encoder_metadata`); with multisource scenes, an
    encoder with a text tower also gets ``retrieval``.
    """
    device = default_device() if device is None else device
    encoders, configs = check_bench(plan, encoders, configs, n_boot, seed, device)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} is a file; give a folder")
    with folder_lock(out, f"sarl bench: {', '.join(encoders)}"):
        return _run_locked(out, plan, bank, encoders, configs, n_boot, seed, device,
                           progress, mlp, trust_remote_code)


def check_bench(plan: CorpusPlan, encoders, configs, n_boot, seed, device) -> tuple:
    """(encoders, configs) as lists, after refusing, before any work, what the benchmark
    cannot run: no encoder or one twice, a name no encoder answers to, a config the plan
    does not write, splits too small to probe, resamples < 1, a device not here."""
    if isinstance(encoders, str) or not encoders:
        raise ValueError(f"encoders: give at least one encoder name, got {encoders!r}")
    encoders = [check_loadable(name) for name in encoders]
    repeated = sorted({name for name in encoders if encoders.count(name) > 1})
    if repeated:
        raise ValueError(f"encoders: {repeated} given more than once")
    configs = list(configs or plan.formats)
    absent = [c for c in configs if c not in plan.formats]
    if absent:
        raise ValueError(f"configs: {absent} are not formats of the plan ({plan.formats})")
    for name, count in (("scenes", plan.scenes), ("multisource_scenes",
                                                   plan.multisource_scenes)):
        small = min(split_sizes(count).values())
        if count and small < MIN_SPLIT_ROWS:
            raise ValueError(f"{name}: the probe needs at least {MIN_SPLIT_ROWS} rows in every "
                             f"split; {count} scenes give {split_sizes(count)} "
                             f"(at least {PROBE_MIN_SCENES} scenes)")
    if plan.sensitivity_anchors:
        check_anchor_count(plan.sensitivity_anchors, "sensitivity_anchors")
    check_integer("n_boot", n_boot, 1)
    check_integer("seed", seed, 0)
    check_device(device)
    return encoders, configs


def _run_locked(out: Path, plan, bank, encoders, configs, n_boot, seed, device, progress,
                mlp, trust_remote_code) -> dict:
    """:func:`run_bench` once the output folder's lock is held."""
    corpus = out / "corpus"
    generate(corpus, plan, bank, resume=True, progress=progress)
    counts = FactorConfig.from_dict(plan.factors).level_counts(tuple(bank.classes))
    num_classes = {t: counts[TASKS[t].label] for t in TASK_NAMES}
    results = {"plan": plan.to_dict(), "encoders": {}}
    for number, name in enumerate(encoders, 1):
        per_config = {}
        for config in configs:
            who = f"[{number}/{len(encoders)}] {name} on {config}"
            logger.info("%s: loading the encoder on %s", who, device)
            encoder = load_encoder(name, channel_format=config, device=device,
                                   trust_remote_code=trust_remote_code)
            per_config[config] = _bench_entry(out, corpus, plan, encoder, config, who,
                                              num_classes, n_boot, seed, device, progress,
                                              mlp)
        results["encoders"][name] = per_config
    with _stage(f"report: results.json, results.md and plots in {out}"):
        write_report(out, results, json_default=_json_default)  # encoders as requested
    return results


def _bench_entry(out: Path, corpus: Path, plan, encoder, config, who, num_classes, n_boot,
                 seed, device, progress, mlp) -> dict:
    """Embed, probe, and (as the plan asks) probe the MLP, the multisource scenes,
    retrieval and sensitivity of one encoder on one format: its results entry."""
    folder = embed_corpus(encoder, corpus, config, out / "embeddings",
                          progress=progress).folder
    layers = probe_layers(folder, config, num_classes, n_boot, seed, device,
                          stage=f"{who}: probe ({len(TASK_NAMES)} tasks per layer)")
    entry = {"fingerprint": encoder.fingerprint(),
             "metadata": encoder_metadata(encoder, config), "layers": layers,
             "best_layer": best_layers(layers)}
    if mlp:
        entry["mlp"] = probe_mlp_best(folder, config, entry["best_layer"], num_classes,
                                      n_boot, seed, device, stage=f"{who}: MLP probe")
    if plan.multisource_scenes:
        multi = embed_corpus(encoder, corpus, "multisource", out / "embeddings",
                             channel_format=config, progress=progress).folder
        entry["multisource"] = probe_multisource_layers(
            multi, config, num_classes, n_boot, seed, device, stage=f"{who}: multisource")
        if encoder.text_layer is not None:
            entry["retrieval"] = retrieval_of(multi, config, encoder, n_boot, seed,
                                              stage=f"{who}: retrieval")
    if plan.sensitivity_anchors:
        sens = embed_corpus(encoder, corpus, "sensitivity", out / "embeddings",
                            splits=("test",), channel_format=config,
                            progress=progress).folder
        with _stage(f"{who}: sensitivity"):
            entry["sensitivity"] = sensitivity_from_cache(sens, config, n_boot=n_boot,
                                                          seed=seed)
    return entry


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
