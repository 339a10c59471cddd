"""The paper's comparison: results grouped by what reached the encoder (its input
configuration) and by how it was trained (its paradigm), from the metadata every
``sarl bench`` entry carries (:mod:`sarl_hf.encoders.metadata`)."""

from __future__ import annotations

import numpy as np

from ..probing.tasks import TASK_NAMES
from .selection import best_metrics, encoder_rows

#: The groupings of the report: (metadata key, column title).
GROUPINGS = (("input_configuration", "input configuration"), ("paradigm", "training paradigm"))
UNKNOWN = "unknown"


def group_of(entry: dict, key: str) -> str:
    """The group of one (encoder, format) entry; ``unknown`` without metadata."""
    return (entry.get("metadata") or {}).get(key) or UNKNOWN


def grouped(results: dict, key: str) -> dict:
    """``{group: [(encoder, config, entry), ...]}`` in the order groups first appear."""
    groups: dict = {}
    for encoder, config, entry in encoder_rows(results):
        groups.setdefault(group_of(entry, key), []).append((encoder, config, entry))
    return groups


def group_accuracy(rows, task: str) -> float:
    """Mean test accuracy of ``task`` over a group's entries, each at its chosen layer."""
    return float(np.mean([best_metrics(entry, task)["accuracy"] for _, _, entry in rows]))


def comparison_lines(results: dict) -> list[str]:
    """Markdown tables of mean test accuracy (%) per task, one row per group, for each of
    :data:`GROUPINGS`."""
    lines = []
    for key, title in GROUPINGS:
        groups = grouped(results, key)
        lines += ["", f"By {title}: mean test accuracy (%) of the encoders × formats in each "
                  "group, each at the layer chosen on validation.", "",
                  f"| {title} | encoders (format) | " + " | ".join(TASK_NAMES) + " |",
                  "|---|---|" + "---|" * len(TASK_NAMES)]
        for group, rows in groups.items():
            members = ", ".join(f"{encoder} ({config})" for encoder, config, _ in rows)
            cells = [f"{100 * group_accuracy(rows, task):.1f}" for task in TASK_NAMES]
            lines.append(f"| {group} | {members} | " + " | ".join(cells) + " |")
    return lines
