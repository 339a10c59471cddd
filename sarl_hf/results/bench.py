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
from pathlib import Path

import numpy as np

from ..corpus.generation import generate
from ..corpus.plan import CorpusPlan
from ..embeddings.cache import load_embeddings
from ..embeddings.embed import embed_corpus
from ..encoders import load_encoder
from ..encoders.metadata import input_configuration
from ..files import atomic_write, json_digest
from ..probing.multisource import probe_multisource
from ..probing.protocol import GRID, PROTOCOL_VERSION, probe
from ..probing.retrieval import retrieval_from_cache
from ..probing.sensitivity_analysis import check_anchor_count, sensitivity_from_cache
from ..probing.tasks import TASK_NAMES, TASKS
from ..scene.factors import SOURCE_FACTORS, FactorConfig
from ..splits import SPLITS
from .report import write_report
from .selection import best_by_validation

DEFAULT_ENCODERS = ("sarl-logmel", "sarl-spatial", "crepe-tiny", "silero-vad")
# Version of the stored probe results. 2: keys in model order (1 sorted them, which made
# the first-layer tie rule alphabetical), so version-1 files are not reused.
CACHE_FORMAT = 2


def _labels(table) -> dict:
    columns = {TASKS[t].label for t in TASK_NAMES} | {TASKS[t].value for t in TASK_NAMES
                                                       if TASKS[t].value}
    return {c: np.array(table.column(c).to_numpy(zero_copy_only=False)) for c in columns}


def _cached(path: Path, compute):
    """The JSON at ``path``, or ``compute()`` stored there atomically.

    Keys keep their order (layers in model order, tasks in the design's order): the
    report and the "first layer wins a tie" rule read them in that order.
    """
    if path.exists():
        return json.loads(path.read_text())
    text = json.dumps(compute(), default=_json_default)
    atomic_write(path, text)
    return json.loads(text)


def _settings_key(**settings) -> str:
    return json_digest(dict(settings, grid=GRID, protocol=PROTOCOL_VERSION, cache=CACHE_FORMAT))


def probe_layers(folder, config: str, num_classes: dict, n_boot: int, seed: int,
                 device: str) -> dict:
    """Probe every layer of an embedding cache: ``{layer: {task: metrics}}``.

    The result is stored next to the embeddings, keyed by the probe's settings, and
    read back by a later run with the same settings.
    """
    def compute():
        per_split = {s: load_embeddings(folder, config, s) for s in SPLITS}
        labels = {s: _labels(per_split[s][1]) for s in SPLITS}
        return {layer: probe({s: per_split[s][0][layer] for s in SPLITS}, labels,
                             num_classes=num_classes, n_boot=n_boot, seed=seed, device=device)
                for layer in per_split["train"][0]}

    key = _settings_key(n_boot=n_boot, seed=seed, num_classes=num_classes)
    return _cached(Path(folder) / config / f"probe-{key}.json", compute)


def probe_mlp_best(folder, config: str, best_layer: dict, num_classes: dict, n_boot: int,
                   seed: int, device: str) -> dict:
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

    key = _settings_key(n_boot=n_boot, seed=seed, num_classes=num_classes, model="mlp",
                        layers=best_layer)
    return _cached(Path(folder) / config / f"probe-mlp-{key}.json", compute)


def probe_multisource_layers(folder, channel_format: str, num_classes: dict, n_boot: int,
                             seed: int, device: str) -> dict:
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

    key = _settings_key(n_boot=n_boot, seed=seed, num_classes=factors)
    return _cached(Path(folder) / f"multisource-{channel_format}" / f"probe-{key}.json",
                   compute)


def retrieval_of(folder, channel_format: str, encoder, n_boot: int, seed: int) -> dict:
    """Audio–text retrieval (``sarl_hf.probing.retrieval``) of an encoder with a text tower
    on its multisource embedding cache, cached like :func:`probe_layers`."""
    key = _settings_key(n_boot=n_boot, seed=seed, retrieval=encoder.text_layer)
    return _cached(Path(folder) / f"multisource-{channel_format}" / f"retrieval-{key}.json",
                   lambda: retrieval_from_cache(folder, channel_format, encoder, n_boot=n_boot,
                                                seed=seed))


def encoder_metadata(encoder, channel_format: str) -> dict:
    """The encoder's metadata and the input configuration of this run."""
    metadata = encoder.metadata()
    return {**metadata, "input_configuration": input_configuration(metadata, channel_format)}


def best_layers(layers: dict) -> dict:
    """Per task, the layer with the best validation accuracy (ties: the first)."""
    return {task: best_by_validation(layers, task, "validation_accuracy")
            for task in TASK_NAMES}


def run_bench(out, plan: CorpusPlan, bank, encoders=DEFAULT_ENCODERS, configs=None,
              n_boot: int = 1000, seed: int = 0, device: str = "cpu",
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
    device : str
    progress : bool
    mlp : bool
        Also run the MLP probe (``sarl_hf.probing.mlp``) of each task at the layer the
        linear probe chose for it (``mlp`` in each entry).
    trust_remote_code : bool
        Let Hub models run their own modelling code (``load_encoder``'s permission).

    Every entry holds ``metadata`` (:func:`encoder_metadata`); with multisource scenes, an
    encoder with a text tower also gets ``retrieval``.
    """
    if plan.sensitivity_anchors:
        check_anchor_count(plan.sensitivity_anchors, "sensitivity_anchors")
    out = Path(out)
    corpus = out / "corpus"
    generate(corpus, plan, bank, resume=True, progress=progress)
    counts = FactorConfig.from_dict(plan.factors).level_counts(tuple(bank.classes))
    num_classes = {t: counts[TASKS[t].label] for t in TASK_NAMES}
    results = {"plan": plan.to_dict(), "encoders": {}}
    for name in encoders:
        per_config = {}
        for config in configs or plan.formats:
            encoder = load_encoder(name, channel_format=config, device=device,
                                   trust_remote_code=trust_remote_code)
            folder = embed_corpus(encoder, corpus, config, out / "embeddings",
                                  progress=progress).folder
            layers = probe_layers(folder, config, num_classes, n_boot, seed, device)
            entry = {"fingerprint": encoder.fingerprint(),
                     "metadata": encoder_metadata(encoder, config), "layers": layers,
                     "best_layer": best_layers(layers)}
            if mlp:
                entry["mlp"] = probe_mlp_best(folder, config, entry["best_layer"], num_classes,
                                              n_boot, seed, device)
            if plan.multisource_scenes:
                multi = embed_corpus(encoder, corpus, "multisource", out / "embeddings",
                                     channel_format=config, progress=progress).folder
                entry["multisource"] = probe_multisource_layers(multi, config, num_classes,
                                                                n_boot, seed, device)
                if encoder.text_layer is not None:
                    entry["retrieval"] = retrieval_of(multi, config, encoder, n_boot, seed)
            if plan.sensitivity_anchors:
                sens = embed_corpus(encoder, corpus, "sensitivity", out / "embeddings",
                                    splits=("test",), channel_format=config,
                                    progress=progress).folder
                entry["sensitivity"] = sensitivity_from_cache(sens, config, n_boot=n_boot,
                                                              seed=seed)
            per_config[config] = entry
        results["encoders"][name] = per_config
    write_report(out, results, json_default=_json_default)  # encoders as requested
    return results


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
