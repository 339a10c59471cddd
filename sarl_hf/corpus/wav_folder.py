"""Render a balanced corpus into a folder of WAV + JSON files, resumably.

Layout: ``<out>/<format>/<split>/<scene_id>.wav`` (float32, channels as in the format)
and ``<scene_id>.json`` (the spec and the labels) next to it, plus ``<out>/corpus.json``
describing the run. Each file is written to a temporary name and renamed, and the JSON
goes last, so a scene with a JSON file is complete; a second run with the same arguments
skips what is done and an interrupted run loses nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from ..acoustics.formats import check_formats
from ..errors import CorpusMismatch
from ..files import atomic_write, remove_partial_files, wav_bytes, write_json
from ..rendering.renderer import Renderer
from ..scene.balanced import design
from ..scene.factors import FactorConfig
from ..scene.spec import SceneSpec
from ..sources import as_bank


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
            raise CorpusMismatch(f"{out} holds a corpus made with other arguments ({path})")
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


def render_wav_folder(out, sizes: dict, formats, *, seed: int = 0, bank=None,
                      sample_rate: int = 16000, duration_s: float = 4.0,
                      num_sources: int = 1, mode: str = "fast", sofa_path=None,
                      factors: FactorConfig | None = None, progress: bool = True
                      ) -> list[dict]:
    """A balanced corpus of ``sizes`` scenes per split (``{"train": 48, ...}``) in every
    format of ``formats``, written as WAV + JSON into ``out`` (``sarl render``); a rerun
    with the same arguments reuses what is there. Returns :func:`render_corpus`'s rows."""
    bank = as_bank(bank, seed)
    factors = factors or FactorConfig()
    formats = list(check_formats(formats))
    specs = corpus_specs(sizes, seed, factors, bank, sample_rate=sample_rate,
                         duration_s=duration_s, num_sources=num_sources)
    description = {"sizes": sizes, "seed": seed, "formats": formats, "bank": bank.to_dict(),
                   "factors": factors.to_dict(), "mode": mode, "sample_rate": sample_rate,
                   "duration_s": duration_s, "num_sources": num_sources}
    renderer = Renderer(bank=bank, mode=mode, sofa_path=sofa_path)
    return render_corpus(out, specs, formats, renderer, description, progress=progress)
