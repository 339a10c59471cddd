"""Render a balanced corpus into a folder of WAV + JSON files, resumably.

Layout: ``<out>/<format>/<split>/<scene_id>.wav`` (float32, channels as in the format)
and ``<scene_id>.json`` (the spec and the labels) next to it, plus ``<out>/corpus.json``
describing the run. Each file is written to a temporary name and renamed, and the JSON
goes last, so a scene with a JSON file is complete; a second run with the same arguments
skips what is done and an interrupted run loses nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..acoustics.render import Renderer
from ..files import atomic_write, remove_partial_files, wav_bytes, write_json
from ..scene.balanced import design
from ..scene.factors import FACTORS, FactorConfig
from ..scene.spec import SceneSpec
from ..splits import SPLITS


def corpus_specs(sizes: dict, seed: int, factors: FactorConfig, bank, **kwargs
                 ) -> list[SceneSpec]:
    """Balanced specs of every split, e.g. ``sizes={"train": 48, "test": 16}``."""
    return [spec for split, n in sizes.items() if n
            for spec in design(n, split=split, seed=seed, factors=factors, bank=bank,
                               **kwargs)]


def _check_run_file(out: Path, description: dict) -> None:
    path = out / "corpus.json"
    description = json.loads(json.dumps(description))  # as it reads back (lists, not tuples)
    if path.exists():
        found = json.loads(path.read_text())
        if found != description:
            raise ValueError(f"{out} holds a corpus made with other arguments "
                             f"({path}); use another --out or remove it")
    else:
        write_json(path, description)


def render_corpus(out, specs: list[SceneSpec], formats: list[str], renderer: Renderer,
                  description: dict | None = None, progress: bool = True) -> list[dict]:
    """Render every spec in every format into ``out``; skip scenes already there.

    Parameters
    ----------
    out : str or Path
    specs : list of SceneSpec
    formats : list of str
    renderer : Renderer
    description : dict, optional
        What made the corpus; stored as ``corpus.json``. A second run into the same
        folder must describe the same corpus.
    progress : bool
        Show a progress bar with scenes per second.

    Returns
    -------
    labels : list of dict
        One per (format, spec), with ``channel_format``, ``split``, ``path`` and
        ``reused`` (found complete from an earlier run) added.
    """
    out = Path(out)
    _check_run_file(out, description or {})
    remove_partial_files(out)  # left by an interrupted run
    rows = []
    jobs = [(fmt, spec) for fmt in formats for spec in specs]
    for fmt, spec in tqdm(jobs, desc="rendering", unit="scene", disable=not progress):
        spec = spec.with_format(fmt)
        stem = out / fmt / spec.split / spec.scene_id
        json_path, wav_path = stem.with_suffix(".json"), stem.with_suffix(".wav")
        record = json.loads(json_path.read_text()) if json_path.exists() else None
        reused = record is not None and record["spec"] == spec.to_dict() and wav_path.exists()
        if not reused:
            scene = renderer.render(spec)
            atomic_write(wav_path, wav_bytes(scene.audio, scene.sample_rate))
            record = {"spec": spec.to_dict(), "labels": scene.labels}
            write_json(json_path, record)
        rows.append(dict(record["labels"], channel_format=fmt, split=spec.split,
                         path=str(wav_path), reused=reused))
    return rows


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
