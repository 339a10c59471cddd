"""Results files read back and put together: one uploaded or several ``sarl bench`` runs
(``sarl report``) as one results dict, refusing runs on different corpora by default."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CorpusMismatch
from .report import markdown


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
    except RecursionError:
        raise ValueError(f"{path.name} is not a sarl bench results file: its JSON is nested "
                         "too deeply") from None
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
            raise CorpusMismatch(f"{path} was measured on another corpus than {paths[0]} "
                                 "(their plans differ), so their numbers are not comparable")
        before = set(combined["encoders"])
        combined = merge_results(combined, results, f" ({path.resolve().parent.name})")
        inputs.append({"file": str(path), "plan": plan,
                       "encoders": [n for n in combined["encoders"] if n not in before]})
    plans = [i["plan"] for i in inputs]
    plan = {"plan": plans[0]} if all(p == plans[0] for p in plans) else {}
    return {**plan, "encoders": combined["encoders"], "inputs": inputs}
