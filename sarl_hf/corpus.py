"""Render a balanced corpus into a folder of WAV + JSON files, resumably.

Layout: ``<out>/<format>/<split>/<scene_id>.wav`` (float32, channels as in the format)
and ``<scene_id>.json`` (the spec and the labels) next to it, plus ``<out>/corpus.json``
describing the run. Each file is written to a temporary name and renamed, and the JSON
goes last, so a scene with a JSON file is complete; a second run with the same arguments
skips what is done and an interrupted run loses nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from tqdm.auto import tqdm

from .design import design
from .factors import FACTORS, FactorConfig
from .render import Renderer
from .scene import SceneSpec
from .sources import SPLITS


PARTIAL_SUFFIX = ".part"


def _default_file_mode() -> int:
    """The mode ``open()`` gives a new file under the process's umask (0o644 under 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path``, which gets the usual
    permissions of a new file (``mkstemp``'s temporary files are private, 0o600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, indent=1).encode()


def corpus_specs(sizes: dict, seed: int, factors: FactorConfig, bank, **kwargs
                 ) -> list[SceneSpec]:
    """Balanced specs of every split, e.g. ``sizes={"train": 48, "test": 16}``."""
    return [spec for split, n in sizes.items() if n
            for spec in design(n, split=split, seed=seed, factors=factors, bank=bank,
                               **kwargs)]


def _check_run_file(out: Path, description: dict) -> None:
    path = out / "corpus.json"
    description = json.loads(_json_bytes(description))  # as it reads back (lists, not tuples)
    if path.exists():
        found = json.loads(path.read_text())
        if found != description:
            raise ValueError(f"{out} holds a corpus made with other arguments "
                             f"({path}); use another --out or remove it")
    else:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(_json_bytes(description)))


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
    for stray in out.glob(f"**/.*{PARTIAL_SUFFIX}"):  # left by an interrupted run
        stray.unlink()
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
            # scipy writes no PEAK chunk (libsndfile's holds a timestamp): same seed, same bytes
            atomic_write(wav_path, lambda tmp: wavfile.write(tmp, scene.sample_rate,
                                                             scene.audio.T))
            record = {"spec": spec.to_dict(), "labels": scene.labels}
            atomic_write(json_path, lambda tmp: Path(tmp).write_bytes(_json_bytes(record)))
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
