"""The benchmark report: ``results.md`` (tables) and PNG plots from the results dict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..files import atomic_write, write_json
from ..probe.tasks import ROOM_TASKS, SOURCE_TASKS, TASK_NAMES, TASKS
from ..scene.factors import SOURCE_FACTORS


def _cell(metrics: dict, name: str, percent: bool | None = None) -> str:
    """``value [low, high]`` of a metric and its interval; in percent for accuracies
    (default: for ``accuracy`` only)."""
    value, (low, high) = metrics[name], metrics[f"{name}_ci"]
    if percent is None:
        percent = name == "accuracy"
    if percent:
        return f"{100 * value:.1f} [{100 * low:.1f}, {100 * high:.1f}]"
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def _table_head(columns) -> list[str]:
    """Header and rule of a Markdown table of encoder × format rows."""
    columns = list(columns)
    return ["| encoder | format | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns)]


def _table_row(encoder: str, config: str, cells) -> str:
    return f"| {encoder} | {config} | " + " | ".join(cells) + " |"


def _rows(results: dict):
    """(encoder, config, entry) for every probed pair."""
    for encoder, configs in results["encoders"].items():
        for config, entry in configs.items():
            yield encoder, config, entry


def _best(entry: dict, task: str) -> dict:
    return entry["layers"][entry["best_layer"][task]][task]


def _mlp_lines(results: dict) -> list[str]:
    rows = [(e, c, entry) for e, c, entry in _rows(results) if entry.get("mlp")]
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
    for encoder, config, entry in _rows(results):
        cells = [_cell(_best(entry, t), "accuracy") for t in TASK_NAMES]
        lines.append(_table_row(encoder, config, cells))
    first = next(_rows(results), None)
    if first:
        chance = [f"{100 * _best(first[2], t)['chance_accuracy']:.1f}" for t in TASK_NAMES]
        lines.append("| chance | | " + " | ".join(chance) + " |")
    regression = [t for t in TASK_NAMES if TASKS[t].value]
    lines += ["", "Regression error of the exact value (lower is better; chance: the train "
              "mean as the prediction).", "",
              *_table_head(f"{t} ({TASKS[t].regression_metric})" for t in regression)]
    for encoder, config, entry in _rows(results):
        cells = [_cell(_best(entry, t), TASKS[t].regression_metric) for t in regression]
        lines.append(_table_row(encoder, config, cells))
    lines += ["", "Source-level against room-level information: mean of accuracy ÷ chance "
              "(at least one over the levels) over the tasks of each level.", "",
              "| encoder | format | source | room |", "|---|---|---|---|"]
    for encoder, config, entry in _rows(results):
        ratio = {k: np.mean([_over_chance(_best(entry, t)) for t in tasks])
                 for k, tasks in (("source", SOURCE_TASKS), ("room", ROOM_TASKS))}
        lines.append(f"| {encoder} | {config} | {ratio['source']:.2f} | {ratio['room']:.2f} |")
    lines += _mlp_lines(results)
    lines += _multisource_lines(results)
    lines += _sensitivity_lines(results)
    with_heatmap = any("sensitivity" in entry for _, _, entry in _rows(results))
    heatmap = ", `sensitivity.png` (heatmap)" if with_heatmap else ""
    lines += ["", f"Plots: `accuracy.png` (per task), `layers.png` (per layer){heatmap}.", ""]
    return "\n".join(lines)


def best_by_validation(per_layer: dict, item: str, metric: str) -> str:
    """The layer whose ``per_layer[layer][item][metric]`` (a validation score) is highest;
    a tie goes to the first, in model order."""
    return max(per_layer, key=lambda layer: per_layer[layer][item][metric])


def best_multisource(per_layer: dict) -> dict:
    """Per factor, the metrics of the layer with the best validation source accuracy."""
    factors = next(iter(per_layer.values()))
    return {f: per_layer[best_by_validation(per_layer, f, "validation_source_accuracy")][f]
            for f in factors}


def _multisource_lines(results: dict) -> list[str]:
    rows = [(e, c, best_multisource(entry["multisource"])) for e, c, entry in _rows(results)
            if entry.get("multisource")]
    if not rows:
        return []
    factors = [f for f in SOURCE_FACTORS if f in rows[0][2]]
    lines = ["", "Multisource scenes (2–3 sources): the share of sources decoded right "
             "(%), after the best assignment of decoded to true sources, with its interval "
             "and, in brackets, chance; at the layer best on validation (see "
             "`sarl_hf.probe.multisource`).", "",
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


def _over_chance(metrics: dict) -> float:
    """Accuracy ÷ chance; chance is at least one over the levels (a tiny test split can
    miss the most frequent train level)."""
    chance = max(metrics["chance_accuracy"], 1.0 / metrics["num_classes"])
    return metrics["accuracy"] / chance


def _sensitivity_lines(results: dict) -> list[str]:
    rows = [(e, c, entry) for e, c, entry in _rows(results) if "sensitivity" in entry]
    if not rows:
        return []
    present = next(iter(rows[0][2]["sensitivity"].values()))
    factors = [f for f in TASK_NAMES if f in present]  # the design's order, not the JSON's
    lines = ["", "Sensitivity (cosine): mean distance between one-factor variants ÷ mean "
             "distance between unrelated scenes, layer `all` where it exists, else the "
             "last.", "", *_table_head(factors)]
    for encoder, config, entry in rows:
        layer = summary_layer(entry["sensitivity"])
        cells = [f"{entry['sensitivity'][layer][f]['ratio']:.3g}" for f in factors]
        lines.append(_table_row(encoder, config, cells))
    return lines


def summary_layer(layers) -> str:
    """The layer that stands for a whole encoder: ``all`` where it exists, else the last."""
    return "all" if "all" in layers else list(layers)[-1]


def _save(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                               bbox_inches="tight"))


def plots(results: dict, out: Path) -> list[Path]:
    """Write ``accuracy.png``, ``layers.png`` and (with sensitivity) ``sensitivity.png``."""
    from matplotlib.figure import (
        Figure,  # no pyplot: no global figure state, thread-safe
    )

    rows = list(_rows(results))
    written = []
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    width = 0.8 / max(len(rows), 1)
    for k, (encoder, config, entry) in enumerate(rows):
        values = [100 * _best(entry, t)["accuracy"] for t in TASK_NAMES]
        ax.bar(np.arange(len(TASK_NAMES)) + k * width, values, width,
               label=f"{encoder} ({config})")
    if rows:
        chance = [100 * _best(rows[0][2], t)["chance_accuracy"] for t in TASK_NAMES]
        ax.scatter(np.arange(len(TASK_NAMES)) + 0.4 - width / 2, chance, marker="_", s=400,
                   color="black", label="chance")
    ax.set_xticks(np.arange(len(TASK_NAMES)) + 0.4 - width / 2, TASK_NAMES)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    _save(fig, out / "accuracy.png")
    written.append(out / "accuracy.png")
    fig = Figure(figsize=(3 * len(TASK_NAMES), 3))
    axes = fig.subplots(1, len(TASK_NAMES), sharey=True)
    for axis, task in zip(np.atleast_1d(axes), TASK_NAMES):
        for encoder, config, entry in rows:
            values = [100 * entry["layers"][layer][task]["accuracy"] for layer in entry["layers"]]
            axis.plot(range(len(values)), values, marker="o", label=f"{encoder} ({config})")
        axis.set_title(task)
        axis.set_xlabel("layer index")
    np.atleast_1d(axes)[0].set_ylabel("test accuracy (%)")
    np.atleast_1d(axes)[-1].legend(fontsize=6)
    _save(fig, out / "layers.png")
    written.append(out / "layers.png")
    with_sensitivity = [(e, c, x) for e, c, x in rows if "sensitivity" in x]
    if with_sensitivity:
        first = with_sensitivity[0][2]["sensitivity"]
        factors = [f for f in TASK_NAMES if f in first[summary_layer(first)]]
        grid = np.array([[x["sensitivity"][summary_layer(x["sensitivity"])][f]["ratio"]
                          for f in factors] for _, _, x in with_sensitivity])
        fig = Figure(figsize=(1.2 * len(factors) + 2, 0.5 * len(grid) + 1.5))
        ax = fig.subplots()
        image = ax.imshow(grid, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(factors)), factors)
        ax.set_yticks(range(len(grid)), [f"{e} ({c})" for e, c, _ in with_sensitivity])
        fig.colorbar(image, label="variant ÷ unrelated distance")
        _save(fig, out / "sensitivity.png")
        written.append(out / "sensitivity.png")
    else:  # not one left by an earlier report in this folder
        (out / "sensitivity.png").unlink(missing_ok=True)
    return written


def write_report(out, results: dict, json_default=None) -> list[Path]:
    """``results.json``, ``results.md`` and the plots into ``out``; returns the files
    written. ``json_default`` converts what JSON cannot hold (as in ``json.dumps``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results, sort_keys=False,  # keys in their order
               default=json_default)
    atomic_write(out / "results.md", markdown(results))
    return [out / "results.json", out / "results.md"] + plots(results, out)


def read_results(path, max_bytes: int | None = None, max_rows: int | None = None) -> dict:
    """A ``results.json`` of ``sarl bench``: size-checked, parsed (never executed) and
    checked to hold what the report reads; ValueError otherwise.

    Parameters
    ----------
    path : str or Path
        A ``.json`` file.
    max_bytes, max_rows : int, optional
        Largest file, and most (encoder, format) pairs, accepted (default: no limit).
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise ValueError(f"expected a results.json file, got {path.name!r}")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{path.name} has {size / 2**20:.1f} MB; files of up to "
                         f"{max_bytes / 2**20:.0f} MB are read here")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path.name} is not valid JSON: {err}") from None
    encoders = results.get("encoders") if isinstance(results, dict) else None
    if not isinstance(encoders, dict) or not encoders:
        raise ValueError(f"{path.name} is not a sarl bench results file: it needs an "
                         "'encoders' object with one entry per encoder")
    empty = [name for name, configs in encoders.items()
             if not isinstance(configs, dict) or not configs]
    if empty:
        raise ValueError(f"{path.name} is not a sarl bench results file: encoder "
                         f"{empty[0]!r} has no results per channel format")
    rows = sum(len(configs) for configs in encoders.values())
    if max_rows is not None and rows > max_rows:
        raise ValueError(f"{path.name} holds {rows} (encoder, format) pairs; up to "
                         f"{max_rows} are shown here")
    try:
        markdown(results)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as err:
        raise ValueError(f"{path.name} is not a sarl bench results file: "
                         f"{type(err).__name__} {err}") from None
    return results


def merge_results(first: dict, second: dict, suffix: str = " (uploaded)") -> dict:
    """One results dict with the encoders of both. A name already in ``first`` gets
    ``suffix`` in the second's copy (and a number after it if that is taken too)."""
    encoders = dict(first["encoders"])
    for name, configs in second["encoders"].items():
        new, k = name, 1
        while new in encoders:
            k += 1
            new = name + suffix + (f" {k - 1}" if k > 2 else "")
        encoders[new] = configs
    return {**first, "encoders": encoders}


def combine_results(paths, other_corpora: bool = False) -> dict:
    """The results of several ``sarl bench`` runs as one (``sarl report``).

    Encoders keep the order of the files, then of each file; a name seen before gets
    `` (<folder of its file>)``. ``inputs`` lists each file with its plan and encoders.
    Numbers from different corpora are not comparable, so a file whose ``plan`` differs
    from the first's is refused unless ``other_corpora`` (then the combined results keep
    no top-level ``plan``).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("give at least one results.json")
    combined, inputs = {"encoders": {}}, []
    for path in paths:
        results = read_results(path)
        plan = results.get("plan")
        if inputs and plan != inputs[0]["plan"] and not other_corpora:
            raise ValueError(f"{path} was measured on another corpus than {paths[0]} (their "
                             "plans differ), so their numbers are not comparable; pass "
                             "--other-corpora to put them in one report anyway")
        before = set(combined["encoders"])
        combined = merge_results(combined, results, f" ({path.resolve().parent.name})")
        inputs.append({"file": str(path), "plan": plan,
                       "encoders": [n for n in combined["encoders"] if n not in before]})
    plans = [i["plan"] for i in inputs]
    plan = {"plan": plans[0]} if all(p == plans[0] for p in plans) else {}
    return {**plan, "encoders": combined["encoders"], "inputs": inputs}
