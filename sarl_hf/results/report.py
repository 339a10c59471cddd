"""The benchmark report: ``results.json``, ``results.md`` (tables) and the plots
(:mod:`.figures`) from the results dict; the tables grouped by input configuration and
training paradigm are in :mod:`.groups`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_write, write_json
from ..probing.tasks import ROOM_TASKS, SOURCE_TASKS, TASK_NAMES, TASKS
from ..scene.factors import SOURCE_FACTORS
from .figures import plots
from .groups import comparison_lines
from .selection import best_metrics, best_multisource, encoder_rows, summary_layer


def _cell(metrics: dict, name: str, percent: bool | None = None,
          interval_key: str | None = None) -> str:
    """``value [low, high]`` of a metric and its interval (``interval_key``, default
    ``{name}_ci``); in percent for accuracies (default: for ``accuracy`` only)."""
    value, interval = metrics[name], metrics.get(interval_key or f"{name}_ci")
    if percent is None:
        percent = name == "accuracy"
    scale, form = (100, ".1f") if percent else (1, ".3g")
    if interval is None:  # too few rows (or anchors) for an interval: see no_interval
        return f"{scale * value:{form}} [no interval]"
    low, high = interval
    return f"{scale * value:{form}} [{scale * low:{form}}, {scale * high:{form}}]"


def _interval_basis(results: dict) -> list[str]:
    """One line per encoder row: the test rows and resamples behind its intervals."""
    lines = []
    for encoder, config, entry in encoder_rows(results):
        metrics = best_metrics(entry, TASK_NAMES[0])
        if "n_test" in metrics and "n_boot" in metrics:  # results of protocol 2 lack them
            why = f" (no interval: {metrics['no_interval']})" if "no_interval" in metrics else ""
            lines.append(f"- {encoder} / {config}: {metrics['n_test']} test scenes, "
                         f"{metrics['n_boot']} resamples{why}")
    return ["", "Behind the intervals (percentile bootstrap over test scenes):", *lines] \
        if lines else []


def _table_head(columns) -> list[str]:
    """Header and rule of a Markdown table of encoder × format rows."""
    columns = list(columns)
    return ["| encoder | format | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns)]


def _table_row(encoder: str, config: str, cells) -> str:
    return f"| {encoder} | {config} | " + " | ".join(cells) + " |"


def _mlp_lines(results: dict) -> list[str]:
    rows = [(e, c, entry) for e, c, entry in encoder_rows(results) if entry.get("mlp")]
    if not rows:
        return []
    lines = ["", "Test accuracy (%) of the MLP probe (one hidden layer, same protocol), at "
             "the layer the linear probe chose on validation.", "",
             *_table_head(TASK_NAMES)]
    for encoder, config, entry in rows:
        cells = [_cell(entry["mlp"][t], "accuracy") for t in TASK_NAMES]
        lines.append(_table_row(encoder, config, cells))
    return lines


def markdown(results: dict) -> str:
    """The report as Markdown: accuracy table, regression errors, source vs room summary,
    sensitivity ratios."""
    lines = ["# SARL results", "",
             "Test accuracy (%) of the linear probe with its bootstrap 95% interval, at the "
             "layer chosen on validation; chance is the most frequent train level.", "",
             *_table_head(TASK_NAMES)]
    for encoder, config, entry in encoder_rows(results):
        cells = [_cell(best_metrics(entry, t), "accuracy") for t in TASK_NAMES]
        lines.append(_table_row(encoder, config, cells))
    first = next(encoder_rows(results), None)
    if first:
        chance = [f"{100 * best_metrics(first[2], t)['chance_accuracy']:.1f}" for t in TASK_NAMES]
        lines.append("| chance | | " + " | ".join(chance) + " |")
    lines += _interval_basis(results)
    regression = [t for t in TASK_NAMES if TASKS[t].value]
    lines += ["", "Regression error of the exact value (lower is better; chance: the train "
              "mean as the prediction).", "",
              *_table_head(f"{t} ({TASKS[t].regression_metric})" for t in regression)]
    for encoder, config, entry in encoder_rows(results):
        cells = [_cell(best_metrics(entry, t), TASKS[t].regression_metric) for t in regression]
        lines.append(_table_row(encoder, config, cells))
    lines += ["", "Source-level against room-level information: mean of accuracy ÷ chance "
              "(at least one over the levels) over the tasks of each level.", "",
              "| encoder | format | source | room |", "|---|---|---|---|"]
    for encoder, config, entry in encoder_rows(results):
        ratio = {k: np.mean([_over_chance(best_metrics(entry, t)) for t in tasks])
                 for k, tasks in (("source", SOURCE_TASKS), ("room", ROOM_TASKS))}
        lines.append(f"| {encoder} | {config} | {ratio['source']:.2f} | {ratio['room']:.2f} |")
    lines += comparison_lines(results)
    lines += _mlp_lines(results)
    lines += _multisource_lines(results)
    lines += _retrieval_lines(results)
    lines += _sensitivity_lines(results)
    with_heatmap = any("sensitivity" in entry for _, _, entry in encoder_rows(results))
    heatmap = ", `sensitivity.png` (heatmap)" if with_heatmap else ""
    lines += ["", f"Plots: `accuracy.png` (per task), `layers.png` (per layer){heatmap}.", ""]
    return "\n".join(lines)


def _multisource_lines(results: dict) -> list[str]:
    rows = [(e, c, best_multisource(entry["multisource"])) for e, c, entry in encoder_rows(results)
            if entry.get("multisource")]
    if not rows:
        return []
    factors = [f for f in SOURCE_FACTORS if f in rows[0][2]]
    lines = ["", "Multisource scenes (2–3 sources): the share of sources decoded right "
             "(%), after the best assignment of decoded to true sources, with its interval "
             "and, in brackets, chance; at the layer best on validation (see "
             "`sarl_hf.probing.multisource`).", "",
             *_table_head(factors + ["azimuth error (deg)"])]
    for encoder, config, best in rows:
        cells = [f"{_cell(best[f], 'source_accuracy', percent=True)} "
                 f"({100 * best[f]['chance_source_accuracy']:.1f})" for f in factors]
        azimuth = best.get("azimuth", {})
        cells.append(f"{_cell(azimuth, 'angular_error_deg')} "
                     f"({azimuth['chance_angular_error_deg']:.3g})"
                     if "angular_error_deg" in azimuth else "")
        lines.append(_table_row(encoder, config, cells))
    return lines


def _retrieval_lines(results: dict) -> list[str]:
    rows = [(e, c, entry["retrieval"]) for e, c, entry in encoder_rows(results)
            if entry.get("retrieval")]
    if not rows:
        return []
    recalls = [f"{d} R@{k}" for d in ("A→T", "T→A") for k in (1, 5, 10)]
    lines = ["", "Audio–text retrieval on the multisource scenes (recall %, with its interval) "
             "and the content–position test: the share of scenes whose caption beats the same "
             "caption with the sources' places exchanged (chance 50%); see "
             "`sarl_hf.probing.retrieval`.", "",
             *_table_head(recalls + ["content–position"])]
    for encoder, config, scores in rows:
        cells = [_cell(scores[direction], f"recall@{k}", percent=True)
                 for direction in ("audio_to_text", "text_to_audio") for k in (1, 5, 10)]
        position = scores["content_position"]
        cells.append(_cell(position, "accuracy", percent=True) if "accuracy" in position
                     else "–")
        lines.append(_table_row(encoder, config, cells))
    return lines


def _over_chance(metrics: dict) -> float:
    """Accuracy ÷ chance; chance is at least one over the levels (a tiny test split can
    miss the most frequent train level)."""
    chance = max(metrics["chance_accuracy"], 1.0 / metrics["num_classes"])
    return metrics["accuracy"] / chance


def _sensitivity_lines(results: dict) -> list[str]:
    rows = [(e, c, entry) for e, c, entry in encoder_rows(results) if "sensitivity" in entry]
    if not rows:
        return []
    present = next(iter(rows[0][2]["sensitivity"].values()))
    factors = [f for f in TASK_NAMES if f in present]  # the design's order, not the JSON's
    lines = ["", "Sensitivity (cosine): mean distance between one-factor variants ÷ mean "
             "distance between unrelated scenes, layer `all` where it exists, else the "
             "last one with a defined ratio, with its 95% cluster-bootstrap interval over "
             "anchors.", "", *_table_head(factors)]
    basis = []
    for encoder, config, entry in rows:
        layer = summary_layer(entry["sensitivity"])
        found = entry["sensitivity"][layer]
        cells = [_cell(found[f], "ratio", False, "interval") for f in factors]
        lines.append(_table_row(encoder, config, cells))
        first = found[factors[0]]
        why = f" (no interval: {first['no_interval']})" if "no_interval" in first else ""
        basis.append(f"- {encoder} / {config}, layer `{layer}`: {first['n_anchors']} anchors, "
                     f"{first.get('n_scenes', '?')} variant scenes per factor (first: "
                     f"{factors[0]}), {first.get('n_boot', '?')} resamples{why}")
    return lines + ["", "Behind the sensitivity intervals:", *basis]



def write_report(out, results: dict, json_default=None) -> list[Path]:
    """``results.json``, ``results.md`` and the plots into ``out``; returns the files
    written. ``json_default`` converts what JSON cannot hold (as in ``json.dumps``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results, sort_keys=False,  # keys in their order
               default=json_default)
    atomic_write(out / "results.md", markdown(results))
    return [out / "results.json", out / "results.md"] + plots(results, out)
