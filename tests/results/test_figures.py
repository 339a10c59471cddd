"""The report's figures, read as matplotlib objects: error bars from the intervals, chance,
the chosen layers and test-set size, layer names on the per-layer axes, legends outside
the data, an annotated sensitivity heatmap on a log scale. The results are those of a real
run (the explorer's bundled ``make demo`` results)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.container import ErrorbarContainer

from sarl_hf.probing.protocol import interval_problem
from sarl_hf.probing.tasks import TASK_NAMES
from sarl_hf.results import figures
from sarl_hf.results.combine import read_results
from sarl_hf.results.selection import best_metrics, encoder_rows, summary_layer

DEMO_RESULTS = Path(__file__).resolve().parents[2] / "spaces" / "sarl_explorer" / \
    "demo_results.json"


@pytest.fixture(scope="module")
def results():
    return read_results(DEMO_RESULTS)


def _drawn(fig):
    """The figure laid out and drawn (window extents are those of the PNG)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return fig, canvas.get_renderer()


def _error_segments(ax) -> list:
    return [segment for c in ax.containers if isinstance(c, ErrorbarContainer)
            for collection in c.lines[2] for segment in collection.get_segments()]


def _without_intervals(results, encoder: str, n_rows: int = 6) -> dict:
    """``results`` as a run with an ``n_rows``-row test split leaves ``encoder``'s
    accuracies: no interval, and the reason the probe records."""
    changed = copy.deepcopy(results)
    for entry in changed["encoders"][encoder].values():
        for per_task in entry["layers"].values():
            for metrics in per_task.values():
                metrics.update(accuracy_ci=None, n_test=n_rows,
                               no_interval=interval_problem(n_rows))
    return changed


def test_accuracy_bars_carry_their_intervals_chance_layers_and_test_size(results):
    rows = list(encoder_rows(results))
    fig, renderer = _drawn(figures.accuracy_figure(results))
    ax = fig.axes[0]
    segments = _error_segments(ax)
    assert len(segments) == len(rows) * len(TASK_NAMES)
    wanted = sorted((round(100 * best_metrics(entry, t)["accuracy_ci"][0], 6),
                     round(100 * best_metrics(entry, t)["accuracy_ci"][1], 6))
                    for _, _, entry in rows for t in TASK_NAMES)
    drawn = sorted((round(s[:, 1].min(), 6), round(s[:, 1].max(), 6)) for s in segments)
    assert drawn == wanted
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        entry["best_layer"][t] for _, _, entry in rows for t in TASK_NAMES]
    top = next(child for child in ax.get_children() if child.__class__.__name__ ==
               "SecondaryAxis")
    assert [t.get_text() for t in top.get_xticklabels()] == list(TASK_NAMES)
    chance = [c for c in ax.collections if c.get_gid() == "chance"]
    assert [c.get_label() for c in chance][0] == figures.CHANCE_LABEL
    assert sorted(round(s[0, 1], 6) for c in chance for s in c.get_segments()) == sorted(
        round(100 * best_metrics(entry, t)["chance_accuracy"], 6)
        for _, _, entry in rows for t in TASK_NAMES)
    n_test = best_metrics(rows[0][2], TASK_NAMES[0])["n_test"]
    assert f"{n_test} test scenes" in ax.get_title() and "chosen on validation" in ax.get_title()
    assert ax.get_ylabel() == "test accuracy (%)"
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # outside the data
    assert not [t for t in ax.texts if t.get_text() == "no interval"]


def test_a_bar_without_an_interval_has_no_error_bar_and_says_so(results):
    encoder = next(iter(results["encoders"]))
    rows = list(encoder_rows(results))
    fig = figures.accuracy_figure(_without_intervals(results, encoder))
    ax = fig.axes[0]
    assert len(_error_segments(ax)) == (len(rows) - 1) * len(TASK_NAMES)
    assert len([t for t in ax.texts if t.get_text() == "no interval"]) == len(TASK_NAMES)
    assert interval_problem(6) in fig.get_supxlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"{encoder} (binaural), n = 6" in labels  # the sizes differ: each row its own


def test_layer_curves_run_over_each_encoders_own_layer_names(results):
    two = {**results, "encoders": dict(list(results["encoders"].items())[:2])}  # drawn: fast
    rows = list(encoder_rows(two))
    fig, renderer = _drawn(figures.layers_figure(two))
    axes = np.array(fig.axes).reshape(len(rows), len(TASK_NAMES))
    for (encoder, config, entry), axes_row in zip(rows, axes):
        names = list(entry["layers"])
        assert encoder in axes_row[0].get_ylabel()
        for axis, task in zip(axes_row, TASK_NAMES):
            assert [t.get_text() for t in axis.get_xticklabels()] == names
            curve = next(line for line in axis.lines if line.get_label() == "test accuracy")
            np.testing.assert_allclose(curve.get_ydata(), [
                100 * entry["layers"][layer][task]["accuracy"] for layer in names])
            chance = next(line for line in axis.lines if line.get_label() ==
                          figures.CHANCE_LABEL)
            assert chance.get_ydata()[0] == pytest.approx(
                100 * best_metrics(entry, task)["chance_accuracy"])
            star = next(line for line in axis.lines
                        if line.get_label() == "chosen on validation")
            assert star.get_xdata()[0] == names.index(entry["best_layer"][task])
            assert [c.get_label() for c in axis.collections] == ["95% interval"]
    assert [a.get_title() for a in axes[0]] == list(TASK_NAMES)
    legend = fig.legends[0].get_window_extent(renderer)
    assert all(not legend.overlaps(a.get_window_extent(renderer)) for a in fig.axes)
    assert "40 test scenes" in fig.get_suptitle()


def test_layer_panels_without_intervals_draw_no_band_and_say_why(results):
    encoder, other = list(results["encoders"])[:2]
    two = {**results, "encoders": {name: results["encoders"][name] for name in (encoder,
                                                                              other)}}
    fig = figures.layers_figure(_without_intervals(two, encoder))
    first_row = fig.axes[:len(TASK_NAMES)]
    assert all(not a.collections for a in first_row)
    assert all(a.collections for a in fig.axes[len(TASK_NAMES):])
    assert f"no interval band: {interval_problem(6)}" in fig.get_suptitle()
    assert "test scenes" not in fig.get_suptitle()  # the sizes differ: each row says its own
    assert first_row[0].get_ylabel().startswith(f"{encoder} (binaural), n = 6\n")
    assert ", n = 40\n" in fig.axes[len(TASK_NAMES)].get_ylabel()


def test_the_sensitivity_heatmap_names_metric_layer_and_every_cell(results):
    rows = [(e, c, x) for e, c, x in encoder_rows(results) if "sensitivity" in x]
    fig = figures.sensitivity_figure(results)
    ax, bar = fig.axes
    image = ax.images[0]
    assert isinstance(image.norm, LogNorm)
    assert "logarithmic" in bar.get_ylabel() and "cosine" in bar.get_ylabel()
    assert "cosine" in ax.get_title()
    factors = [t.get_text() for t in ax.get_xticklabels()]
    assert factors == [f for f in TASK_NAMES if f in rows[0][2]["sensitivity"]["all"]]
    ratios = np.array([[x["sensitivity"][summary_layer(x["sensitivity"])][f]["ratio"]
                        for f in factors] for _, _, x in rows])
    cells = [t.get_text().split("\n")[0] for t in ax.texts]
    assert cells == [f"{r:.3g}" for r in ratios.ravel()]
    assert all("[" in t.get_text().split("\n")[1] for t in ax.texts)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"{e} ({c})\nlayer {summary_layer(x['sensitivity'])}" for e, c, x in rows]
    others = ratios[:, factors.index("azimuth")]
    shades = image.norm(others)  # the factors far below class still span the colours
    assert shades.max() - shades.min() > 0.2
    linear = (others - ratios.min()) / (ratios.max() - ratios.min())
    assert linear.max() - linear.min() < 0.05  # what a linear scale showed


def test_undefined_and_zero_ratios_are_marked_not_coloured(results):
    changed = copy.deepcopy(results)
    rows = [x for _, _, x in encoder_rows(changed) if "sensitivity" in x]
    found = rows[0]["sensitivity"][summary_layer(rows[0]["sensitivity"])]
    found["azimuth"]["ratio"], found["elevation"]["ratio"] = float("nan"), 0.0
    ax = figures.sensitivity_figure(changed).axes[0]
    texts = [t.get_text().split("\n")[0] for t in ax.texts]
    assert texts[:2] == ["n/a", "0"]
    assert ax.images[0].get_array().mask[0, :2].all()  # grey, off the log scale
    for metrics in found.values():
        metrics["ratio"] = float("nan")
    assert figures.sensitivity_figure(changed).axes[0].texts[0].get_text() == "n/a"


def test_results_without_test_sizes_say_so(results):
    old = copy.deepcopy(results)  # protocol-2 results recorded neither size nor resamples
    for _, _, entry in encoder_rows(old):
        for per_task in entry["layers"].values():
            for metrics in per_task.values():
                metrics.pop("n_test"), metrics.pop("n_boot")
    assert "test-set size not recorded" in figures.accuracy_figure(old).axes[0].get_title()
