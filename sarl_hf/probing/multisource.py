"""Assignment scoring of the ``multisource`` config: decode every source of a scene.

A scene of the ``multisource`` config holds 2 or 3 sources, each with its own azimuth,
elevation, distance and class. A linear probe cannot say which output belongs to which
source, so it is asked for something order-free: for each level of a factor, how many of
the scene's sources sit at that level (ridge regression on the count vector, under the
same protocol as ``sarl_hf.probing.protocol``: standardise on train, 10 L2 strengths, choose on
validation, bootstrap intervals on test).

Decoding takes the number of sources as known: a scene with m sources gets the m levels
with the highest predicted counts, and a level can be picked more than once (each pick
lowers its count by one), as two sources can share a level. The decoded sources are then
assigned to the true ones by the assignment that minimises the total cost (every
permutation is tried; m ≤ 6), and scored:

- ``source_accuracy``: the fraction of sources whose assigned prediction has the right
  level (cost 0/1);
- ``set_accuracy``: the fraction of scenes with every source right;
- ``angular_error_deg`` (azimuth): the mean angle between a source's exact azimuth and
  the centre of the sector assigned to it, under the assignment that minimises the angles.

Chance: the same decoding from the train split's mean counts, the same for every scene.

>>> level_counts(np.array([[0, 2, -1], [1, 1, 1]]), 3)
array([[1., 0., 1.],
       [0., 3., 0.]])
>>> decode(np.array([[0.9, 0.1, 1.6]]), np.array([3]))
array([[2, 0, 2]])
"""

from __future__ import annotations

import itertools

import numpy as np

from ..scene.factors import SOURCE_FACTORS
from ..splits import SPLITS
from .backends import backend_functions
from .protocol import (GRID, check_inputs, chosen_alpha, interval_facts, interval_problem,
                       linear_options, percentile_interval, regress_blocks, resamples, standardised)

#: Largest number of sources per scene the exhaustive assignment takes (6! = 720 orders).
MAX_SOURCES = 6


def level_counts(levels: np.ndarray, num_levels: int) -> np.ndarray:
    """Sources per level (n, num_levels) of per-source levels (n, m), -1 for no source."""
    levels = np.asarray(levels)
    if levels.size and levels.max() >= num_levels:
        raise ValueError(f"a level {levels.max()} is out of range for {num_levels} levels")
    counts = np.zeros((len(levels), num_levels))
    rows, cols = np.nonzero(levels >= 0)
    np.add.at(counts, (rows, levels[rows, cols]), 1.0)
    return counts


def decode(scores: np.ndarray, num_sources: np.ndarray) -> np.ndarray:
    """Levels (n, max m) of the m sources of each scene, -1 after the m-th.

    Parameters
    ----------
    scores : ndarray (n, num_levels)
        Predicted sources per level.
    num_sources : ndarray (n,) of int
    """
    scores = np.array(scores, dtype=np.float64)
    num_sources = np.asarray(num_sources)
    out = np.full((len(scores), int(num_sources.max(initial=0))), -1)
    rows = np.arange(len(scores))
    for pick in range(out.shape[1]):
        best = scores.argmax(1)
        active = pick < num_sources
        out[active, pick] = best[active]
        scores[rows, best] -= 1.0
    return out


def best_assignment(cost: np.ndarray) -> np.ndarray:
    """Per scene, the smallest total cost of a one-to-one assignment, (n,).

    ``cost`` (n, m, m): cost[i, a, b] of giving prediction a to true source b.
    """
    m = cost.shape[1]
    if m > MAX_SOURCES:
        raise ValueError(f"at most {MAX_SOURCES} sources per scene, got {m}")
    if m == 0:
        return np.zeros(len(cost))
    rows = np.arange(m)
    return np.min([cost[:, rows, list(order)].sum(1)
                   for order in itertools.permutations(range(m))], axis=0)


def level_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Wrong sources per scene (n,) under the best assignment of predicted to true levels
    (both (n, m), -1 for no source)."""
    return best_assignment(_padded_cost(predicted >= 0, truth >= 0,
                                        (predicted[:, :, None] != truth[:, None, :]) * 1.0))


def _padded_cost(predicted_present, truth_present, cost):
    """``cost`` with 0 between absent entries and a prohibitive cost between an absent and
    a present one, so that the assignment pairs sources with sources (the counts match)."""
    a, b = predicted_present[:, :, None], truth_present[:, None, :]
    prohibitive = 1.0 + cost.max(initial=0.0) * cost.shape[1]
    return np.where(a & b, cost, np.where(a | b, prohibitive, 0.0))


def angular_errors(predicted: np.ndarray, azimuth_deg: np.ndarray, sectors: int) -> np.ndarray:
    """Summed angle (n,) in degrees between each source's exact azimuth and the centre of
    the predicted sector assigned to it, under the assignment that minimises the sum.

    ``predicted`` (n, m) sector indices (-1: none), ``azimuth_deg`` (n, m) (NaN: none);
    sector k is centred on ``k * 360 / sectors`` degrees.
    """
    centre = predicted[:, :, None] * (360.0 / sectors)
    angle = np.abs((centre - azimuth_deg[:, None, :] + 180.0) % 360.0 - 180.0)
    angle = np.where(np.isfinite(angle), angle, 0.0)
    return best_assignment(_padded_cost(predicted >= 0, np.isfinite(azimuth_deg), angle))


def source_arrays(sources, factors=SOURCE_FACTORS) -> dict:
    """Per-source labels of the ``sources`` column: ``{factor: (n, m) levels}`` (-1 pads)
    and ``azimuth_deg`` (n, m) (NaN pads), m the largest source count."""
    sources = list(sources)
    m = max((len(s) for s in sources), default=0)
    out = {f: np.full((len(sources), m), -1, dtype=np.int64) for f in factors}
    out["azimuth_deg"] = np.full((len(sources), m), np.nan)
    for i, scene in enumerate(sources):
        for j, source in enumerate(scene):
            for name in out:
                out[name][i, j] = source[name]
    return out


def _scores(levels, predicted, truth, sectors, n_boot, seed):
    """Metrics of decoded levels against the truth of one factor on the test split."""
    num = (truth >= 0).sum(1)
    wrong = level_errors(predicted, truth)
    index = resamples(len(truth), n_boot, seed)
    right = num - wrong
    problem = interval_problem(len(truth), truth[truth >= 0])
    out = {"source_accuracy": float(right.sum() / num.sum()),
           "source_accuracy_ci": percentile_interval(right[index].sum(1) / num[index].sum(1),
                                                     problem),
           "set_accuracy": float(np.mean(wrong == 0)),
           "set_accuracy_ci": percentile_interval((wrong[index] == 0).mean(1), problem)}
    if sectors:
        angle = angular_errors(predicted, levels["azimuth_deg"], sectors)
        out["angular_error_deg"] = float(angle.sum() / num.sum())
        out["angular_error_deg_ci"] = percentile_interval(angle[index].sum(1)
                                                          / num[index].sum(1), problem)
    return out | interval_facts(len(truth), n_boot, problem)


def probe_multisource(embeddings: dict, sources: dict, num_classes: dict,
                      factors=SOURCE_FACTORS, grid=GRID, backend: str = "torch",
                      n_boot: int = 1000, seed: int = 0, device: str = "cpu") -> dict:
    """Assignment-scored probe of the per-source factors of multisource scenes.

    Parameters
    ----------
    embeddings : dict of split to ndarray (n, dim)
    sources : dict of split to list
        The ``sources`` column of every split: per scene, a list of per-source dicts with
        the factors' level indices and ``azimuth_deg``.
    num_classes : dict of factor to int
        Levels per factor.
    factors : sequence of str
        Among ``azimuth``, ``elevation``, ``distance``, ``class``.
    grid, backend, n_boot, seed, device
        As in :func:`sarl_hf.probing.protocol.probe`.

    Returns
    -------
    dict of factor to dict
        ``source_accuracy``, ``set_accuracy`` (with ``_ci``) and their ``chance_`` values,
        ``angular_error_deg`` for azimuth, the chosen ``alpha``,
        ``validation_source_accuracy``, ``num_classes`` and ``n_<split>``.
    """
    unknown = [f for f in factors if f not in SOURCE_FACTORS]
    if unknown:
        raise ValueError(f"factors must be among {SOURCE_FACTORS}, got {unknown}")
    check_inputs(embeddings, {s: {"sources": sources[s]} for s in SPLITS})
    levels = {s: source_arrays(sources[s], factors) for s in SPLITS}
    counts = {f: {s: level_counts(levels[s][f], num_classes[f]) for s in SPLITS}
              for f in factors}
    data = standardised(embeddings)
    regress = backend_functions(backend)[1]
    options = linear_options(backend, data["train"], device)
    per_factor = regress_blocks(regress, data, [counts[f]["train"] for f in factors], grid,
                                options)
    return {f: _factor_result(f, levels, counts[f], predictions, num_classes[f], grid, n_boot,
                              seed)
            | {f"n_{s}": len(embeddings[s]) for s in SPLITS}
            for f, predictions in zip(factors, per_factor)}


def _factor_result(factor, levels, counts, predictions, k, grid, n_boot, seed):
    num = {s: (levels[s][factor] >= 0).sum(1) for s in SPLITS}
    truth = {s: levels[s][factor] for s in SPLITS}
    validation = [1 - level_errors(decode(p[0], num["validation"]), truth["validation"]).sum()
                  / num["validation"].sum() for p in predictions]
    best = chosen_alpha(validation)
    sectors = k if factor == "azimuth" else 0
    result = _scores(levels["test"], decode(predictions[best][1], num["test"]),
                     truth["test"], sectors, n_boot, seed)
    constant = np.repeat(counts["train"].mean(0, keepdims=True), len(truth["test"]), 0)
    chance = _scores(levels["test"], decode(constant, num["test"]), truth["test"], sectors,
                     n_boot, seed)
    result.update({f"chance_{name}": value for name, value in chance.items()
                   if name in ("source_accuracy", "set_accuracy", "angular_error_deg")})
    result.update(alpha=float(grid[best]), validation_source_accuracy=float(validation[best]),
                  num_classes=int(k))
    return result
