"""What a corpus holds, counted: scenes per format and split, level counts per split and
factor (balanced or not), and the measured RT60 against its target.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..scene.factors import FACTORS, FactorConfig
from ..splits import SPLITS


def summarise(rows: list[dict], num_levels: dict) -> dict:
    """Level counts per split and factor, and how close the rooms came to their targets.

    ``num_levels`` maps each factor to its number of levels, so absent levels count 0.
    """
    summary = {"scenes": Counter(), "levels": {}, "rt60_error": {}}
    for row in rows:
        summary["scenes"][(row["channel_format"], row["split"])] += 1
    first = rows[0]["channel_format"] if rows else None
    for row in (r for r in rows if r["channel_format"] == first):
        for factor in FACTORS:
            key = (row["split"], factor)
            counts = summary["levels"].setdefault(key, [0] * num_levels[factor])
            counts[row[factor]] += 1
    errors = np.array([abs(r["rt60_s"] / r["rt60_target_s"] - 1) for r in rows])
    if len(errors):
        summary["rt60_error"] = {"median": float(np.median(errors)), "max": float(errors.max())}
        summary["drr_db"] = (float(min(r["drr_db"] for r in rows)),
                             float(max(r["drr_db"] for r in rows)))
    return summary


def format_summary(summary: dict) -> str:
    """The summary as a short plain-text report."""
    lines = ["scenes per format and split:"]
    for fmt in sorted({fmt for fmt, _ in summary["scenes"]}):
        counts = [f"{split} {summary['scenes'][(fmt, split)]}" for split in SPLITS
                  if (fmt, split) in summary["scenes"]]
        lines.append(f"  {fmt:9s} " + ", ".join(counts))
    lines.append("level counts per split (every level of a factor within ±1 = balanced):")
    for (split, factor), values in sorted(summary["levels"].items()):
        state = "balanced" if max(values) - min(values) <= 1 else "UNBALANCED"
        lines.append(f"  {split:10s} {factor:9s} {values} {state}")
    if summary["rt60_error"]:
        err = summary["rt60_error"]
        lines.append(f"measured RT60 vs target: median error {100 * err['median']:.1f}%, "
                     f"max {100 * err['max']:.1f}%")
        lines.append(f"DRR range: {summary['drr_db'][0]:.1f} to {summary['drr_db'][1]:.1f} dB")
    return "\n".join(lines)


#: The label columns a summary reads.
SUMMARY_COLUMNS = ("channel_format", "azimuth", "elevation", "distance", "class", "rt60",
                   "volume", "shape", "rt60_s", "rt60_target_s", "drr_db")


def label_rows(out, formats) -> list[dict]:
    """The label columns (no audio) of the format configs of a corpus folder, one dict
    per row with its ``split``: what :func:`summarise` reads."""
    rows = []
    for fmt in formats:
        for split in SPLITS:
            for path in sorted(Path(out).glob(f"data/{fmt}/{split}-*.parquet")):
                table = pq.read_table(path, columns=list(SUMMARY_COLUMNS))
                rows.extend(dict(row, split=split) for row in table.to_pylist())
    return rows


def corpus_summary(out, plan, bank) -> str:
    """The summary of a finished corpus folder written from ``plan`` with ``bank``."""
    counts = FactorConfig.from_dict(plan.factors).level_counts(bank.classes)
    return format_summary(summarise(label_rows(out, plan.formats), counts))
