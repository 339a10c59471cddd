"""The report's PNG plots: test accuracy per task (``accuracy.png``), per layer
(``layers.png``) and the sensitivity heatmap (``sensitivity.png``).

Each figure states what a reader needs to read it: the interval behind every error bar
(or that there is none), chance, the layer chosen on validation, the test-set size, and for
the heatmap its metric, layer and colour scale. The figures are built by
:func:`accuracy_figure`, :func:`layers_figure` and :func:`sensitivity_figure` (matplotlib
``Figure`` objects, no pyplot state) and written by :func:`plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..probing.tasks import TASK_NAMES
from .selection import best_metrics, encoder_rows, summary_layer

#: Label of the chance marks: the most frequent train level, as in the tables.
CHANCE_LABEL = "chance (most frequent train level)"


def _save(fig, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                               bbox_inches="tight"))
    return path


def plots(results: dict, out: Path) -> list[Path]:
    """Write ``accuracy.png``, ``layers.png`` and (with sensitivity) ``sensitivity.png``
    into ``out``; returns the files written."""
    out = Path(out)
    written = [_save(accuracy_figure(results), out / "accuracy.png"),
               _save(layers_figure(results), out / "layers.png")]
    if any("sensitivity" in entry for _, _, entry in encoder_rows(results)):
        written.append(_save(sensitivity_figure(results), out / "sensitivity.png"))
    else:  # not one left by an earlier report in this folder
        (out / "sensitivity.png").unlink(missing_ok=True)
    return written


def _row_label(encoder: str, config: str) -> str:
    return f"{encoder} ({config})"


def _test_size(rows) -> tuple[str, str, dict]:
    """What the titles say of the test sets: (the size every row shares, or "" when they
    differ; the resamples behind the intervals; {row index: ", n = size"} when they
    differ)."""
    sizes = [best_metrics(entry, TASK_NAMES[0]).get("n_test") for _, _, entry in rows]
    boots = {best_metrics(entry, TASK_NAMES[0]).get("n_boot") for _, _, entry in rows}
    boot = f", {boots.pop()} resamples" if len(boots) == 1 and None not in boots else ""
    if len(set(sizes)) == 1:
        size = sizes[0]
        known = f"{size} test scenes" if size is not None else "test-set size not recorded"
        return known, boot, {}
    return "", boot, {k: f", n = {size if size is not None else '?'}"
                      for k, size in enumerate(sizes)}


def accuracy_figure(results: dict):
    """Grouped bars: per task (named above the plot), each encoder's test accuracy at the
    layer chosen for it on validation (named under its bar), the bootstrap interval as an
    error bar (none where the results hold no interval, marked "no interval"), and chance
    per bar."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, thread-safe

    rows = list(encoder_rows(results))
    fig = Figure(figsize=(max(8.0, 0.45 * len(TASK_NAMES) * max(1, len(rows)) + 3), 5.0),
                 layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(rows), 1)
    size, boot, per_row = _test_size(rows)
    missing, ticks, names = set(), [], []
    for k, (encoder, config, entry) in enumerate(rows):
        x = np.arange(len(TASK_NAMES)) + (k - (len(rows) - 1) / 2) * width
        metrics = [best_metrics(entry, t) for t in TASK_NAMES]
        values = np.array([100 * m["accuracy"] for m in metrics])
        ax.bar(x, values, width, label=_row_label(encoder, config) + per_row.get(k, ""))
        _error_bars(ax, x, values, metrics)
        ticks += list(x)
        names += [entry["best_layer"][task] for task in TASK_NAMES]
        for xi, value, m in zip(x, values, metrics):
            if m.get("accuracy_ci") is None:
                missing.add(m.get("no_interval", "no interval in the results"))
                ax.text(xi, value + 1.5, "no interval", rotation=90, ha="center",
                        va="bottom", fontsize=6, color="dimgray")
        ax.hlines([100 * m["chance_accuracy"] for m in metrics], x - width / 2, x + width / 2,
                  colors="black", linestyles="--", linewidth=1,
                  label=CHANCE_LABEL if k == 0 else None).set_gid("chance")
    ax.set_xticks(ticks, names, rotation=90, fontsize=7)
    ax.set_xlabel("layer chosen on validation (one bar per encoder)", fontsize=8)
    top = ax.secondary_xaxis("top")
    top.set_xticks(np.arange(len(TASK_NAMES)), TASK_NAMES)
    ax.set_xlim(-0.5, len(TASK_NAMES) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy per task at the layer chosen on validation; "
                 f"{size + '; ' if size else ''}bars: 95% bootstrap interval{boot}",
                 fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    if missing:
        fig.supxlabel("no interval: " + "; ".join(sorted(missing)), fontsize=7)
    return fig


def _error_bars(ax, x, values, metrics) -> None:
    """The 95% interval of each bar that has one (percent): (low, high) around the value."""
    has = [k for k, m in enumerate(metrics) if m.get("accuracy_ci") is not None]
    if not has:
        return
    low = np.array([100 * metrics[k]["accuracy_ci"][0] for k in has])
    high = np.array([100 * metrics[k]["accuracy_ci"][1] for k in has])
    centre = values[has]
    ax.errorbar(x[has], centre, yerr=[np.maximum(centre - low, 0), np.maximum(high - centre, 0)],
                fmt="none", ecolor="black", elinewidth=0.8, capsize=2)


def layers_figure(results: dict):
    """One panel per encoder (row) and task (column): test accuracy against the encoder's
    layer names, its interval as a band, chance dashed, the layer chosen on validation
    starred; the legend below the panels."""
    from matplotlib.figure import Figure

    rows = list(encoder_rows(results))
    tasks = list(TASK_NAMES)
    fig = Figure(figsize=(2.1 * len(tasks), 2.6 * max(1, len(rows)) + 0.6),
                 layout="constrained")
    axes = np.atleast_2d(fig.subplots(max(1, len(rows)), len(tasks), sharey=True,
                                      squeeze=False))
    size, _, per_row = _test_size(rows)
    for k, (axes_row, (encoder, config, entry)) in enumerate(zip(axes, rows)):
        names = list(entry["layers"])
        for axis, task in zip(axes_row, tasks):
            _layer_panel(axis, entry, names, task)
        axes_row[0].set_ylabel(f"{_row_label(encoder, config)}{per_row.get(k, '')}\n"
                               "test accuracy (%)", fontsize=8)
    for axis, task in zip(axes[0], tasks):
        axis.set_title(task, fontsize=9)
    legend = {}  # one entry per label, from every panel (a band only where one is drawn)
    for axis in axes.ravel():
        for handle, label in zip(*axis.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    missing = {m["no_interval"] for _, _, entry in rows for layer in entry["layers"].values()
               for m in layer.values() if m.get("accuracy_ci") is None and "no_interval" in m}
    note = f"\nno interval band: {'; '.join(sorted(missing))}" if missing else ""
    fig.suptitle(f"Test accuracy per layer{f' ({size})' if size else ''}; each row one "
                 f"encoder, its own layers{note}", fontsize=10)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center",
               ncols=len(legend), fontsize=8, frameon=False)
    return fig


def _layer_panel(axis, entry: dict, names: list, task: str) -> None:
    x = np.arange(len(names))
    metrics = [entry["layers"][layer][task] for layer in names]
    values = np.array([100 * m["accuracy"] for m in metrics])
    band = np.array([[100 * v for v in m["accuracy_ci"]] if m.get("accuracy_ci") is not None
                     else [np.nan, np.nan] for m in metrics])
    if np.isfinite(band).any():
        axis.fill_between(x, band[:, 0], band[:, 1], alpha=0.25, color="C0", linewidth=0,
                          label="95% interval")
    axis.plot(x, values, marker="o", markersize=3, color="C0", label="test accuracy")
    chance = 100 * best_metrics(entry, task)["chance_accuracy"]
    axis.axhline(chance, color="black", linestyle="--", linewidth=1, label=CHANCE_LABEL)
    chosen = names.index(entry["best_layer"][task])
    axis.plot([x[chosen]], [values[chosen]], marker="*", markersize=10, color="C3",
              linestyle="none", label="chosen on validation")
    axis.set_xticks(x, names, rotation=90, fontsize=6)
    axis.set_ylim(0, 100)
    axis.tick_params(axis="y", labelsize=7)


def _sensitivity_grid(rows):
    """(factors, ratios (rows, factors), intervals, layers, metric) at each row's summary
    layer; NaN where a ratio is undefined or the factor was not measured."""
    first = rows[0][2]["sensitivity"]
    factors = [f for f in TASK_NAMES if f in first[summary_layer(first)]]
    layers = [summary_layer(entry["sensitivity"]) for _, _, entry in rows]
    found = [entry["sensitivity"][layer] for (_, _, entry), layer in zip(rows, layers)]
    grid = np.array([[float(f[factor]["ratio"]) if factor in f and f[factor]["ratio"]
                      is not None else np.nan for factor in factors] for f in found])
    intervals = [[f.get(factor, {}).get("interval") for factor in factors] for f in found]
    metrics = {f[factor].get("metric", "cosine") for f in found for factor in factors
               if factor in f}
    return factors, grid, intervals, layers, "/".join(sorted(metrics))


def _log_norm(grid: np.ndarray):
    """A logarithmic colour scale over the positive finite ratios (None: none to scale)."""
    from matplotlib.colors import LogNorm

    positive = grid[np.isfinite(grid) & (grid > 0)]
    if positive.size == 0:
        return None
    low, high = positive.min(), positive.max()
    if high <= low * 1.01:
        low, high = low / 2, high * 2
    return LogNorm(vmin=low, vmax=high)


def sensitivity_figure(results: dict):
    """Heatmap of the sensitivity ratios (variant ÷ unrelated distance), encoders by
    factors, on a logarithmic colour scale so factors far below ``class`` still differ;
    every cell prints its ratio and interval, every row its layer."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    rows = [(e, c, x) for e, c, x in encoder_rows(results) if "sensitivity" in x]
    factors, grid, intervals, layers, metric = _sensitivity_grid(rows)
    norm = _log_norm(grid)
    fig = Figure(figsize=(1.45 * len(factors) + 3.5, 0.75 * len(rows) + 2.0),
                 layout="constrained")
    ax = fig.subplots()
    shown = np.ma.masked_invalid(np.where(grid > 0, grid, np.nan) if norm else grid)
    cmap = colormaps["viridis"].with_extremes(bad="lightgray")  # undefined ratios: grey
    image = ax.imshow(shown, cmap=cmap, aspect="auto", norm=norm)
    for (r, c), value in np.ndenumerate(grid):
        _annotate_cell(ax, r, c, value, intervals[r][c], image)
    ax.set_xticks(range(len(factors)), factors)
    ax.set_yticks(range(len(rows)), [f"{_row_label(e, c)}\nlayer {layer}"
                                     for (e, c, _), layer in zip(rows, layers)], fontsize=8)
    ax.set_xlabel("factor varied (one at a time)")
    ax.set_title(f"Sensitivity ({metric} distance): one-factor variants ÷ unrelated scenes\n"
                 "0: the embedding ignores the factor; 1: it moves as much as unrelated "
                 "scenes", fontsize=9)
    scale = "logarithmic" if norm is not None else "linear"
    fig.colorbar(image, ax=ax, label=f"variant ÷ unrelated {metric} distance\n({scale} "
                 "colour scale)")
    missing = {m["no_interval"] for _, _, entry in rows for layer_metrics in
               [entry["sensitivity"][summary_layer(entry["sensitivity"])]]
               for m in layer_metrics.values() if isinstance(m, dict) and "no_interval" in m}
    if missing:
        fig.supxlabel("no interval: " + "; ".join(sorted(missing)), fontsize=7)
    return fig


def _annotate_cell(ax, row: int, column: int, value: float, interval, image) -> None:
    """The ratio (and its interval) printed in its cell, dark on light colours."""
    from matplotlib.colors import LogNorm

    if not np.isfinite(value):
        ax.text(column, row, "n/a", ha="center", va="center", fontsize=7)
        return
    text = f"{value:.3g}\n" + (f"[{interval[0]:.2g}, {interval[1]:.2g}]" if interval
                                 else "[no interval]")
    off_scale = value <= 0 and isinstance(image.norm, LogNorm)  # a grey cell
    color = "black" if off_scale or float(image.norm(value)) > 0.55 else "white"
    ax.text(column, row, text, ha="center", va="center", fontsize=7, color=color)
