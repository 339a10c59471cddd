"""``sarl verify PATH``: check a corpus folder, an embeddings cache (one folder or a cache
root) or a ``sarl bench`` output folder (both) against the checksums their stages recorded,
and say what is wrong.
"""

from __future__ import annotations

from pathlib import Path

from ..corpus.integrity import corpus_problems
from .cache import cache_problems

__all__ = ["verify_folder"]


def _is_corpus(path: Path) -> bool:
    return any((path / name).exists() for name in ("manifest.json", ".sarl/plan.json"))


def _cache_folders(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "encoder.json").is_file())


def verify_folder(path) -> tuple[str, list[str]]:
    """What ``path`` is and everything wrong with it, one line each (none: intact).

    Returns
    -------
    kind : str
        ``corpus``, ``embeddings cache``, ``embeddings cache root (N folders)`` or
        ``sarl bench output``.
    problems : list of str
        Relative paths first; empty when every file matches its record.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder: give a corpus folder, an embeddings cache "
                         "or a sarl bench output folder")
    if _is_corpus(path):
        return "corpus", corpus_problems(path)
    if (path / "encoder.json").is_file():
        return "embeddings cache", cache_problems(path)
    if _is_corpus(path / "corpus"):
        problems = [f"corpus/{line}" for line in corpus_problems(path / "corpus")]
        root = path / "embeddings"
        for folder in _cache_folders(root) if root.is_dir() else []:
            problems += [f"embeddings/{folder.name}/{line}" for line in cache_problems(folder)]
        return "sarl bench output", problems
    caches = _cache_folders(path)
    if caches:
        return (f"embeddings cache root ({len(caches)} folders)",
                [f"{folder.name}/{line}" for folder in caches
                 for line in cache_problems(folder)])
    raise ValueError(f"{path} is neither a corpus folder (manifest.json or .sarl/plan.json), "
                     "an embeddings cache (encoder.json) nor a sarl bench output folder")
