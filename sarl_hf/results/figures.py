"""The report's PNG plots: test accuracy per task, per layer, and the sensitivity heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..probing.tasks import TASK_NAMES
from .selection import best_metrics, encoder_rows, summary_layer


def _save(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                               bbox_inches="tight"))


def plots(results: dict, out: Path) -> list[Path]:
    """Write ``accuracy.png``, ``layers.png`` and (with sensitivity) ``sensitivity.png``."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, thread-safe

    rows = list(encoder_rows(results))
    written = []
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    width = 0.8 / max(len(rows), 1)
    for k, (encoder, config, entry) in enumerate(rows):
        values = [100 * best_metrics(entry, t)["accuracy"] for t in TASK_NAMES]
        ax.bar(np.arange(len(TASK_NAMES)) + k * width, values, width,
               label=f"{encoder} ({config})")
    if rows:
        chance = [100 * best_metrics(rows[0][2], t)["chance_accuracy"] for t in TASK_NAMES]
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
