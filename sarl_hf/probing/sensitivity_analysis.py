"""Sensitivity: how far an embedding moves when one factor of a scene moves.

The ``sensitivity`` config holds, per anchor scene and factor, one variant per level
(same dry clip, same noise seed). Sensitivity of a factor = mean distance between the
variants of a group (every pair of levels, pooled over groups) ÷ mean distance between
unrelated scenes (rows of different anchors), with a 95% cluster-bootstrap interval over
anchors: near 0 the embedding ignores the factor; near 1 moving it alone moves the
embedding as far as a new scene does. A curve gives the distance from the anchor's own
variant (the one at the anchor's level) to each level.

Rows carry ``anchor_id``, ``variant_factor``, ``variant_level`` and the anchor's own
level of that factor: stored rows hold only the variant's level, but the other factors'
variants of the anchor keep the anchor's, and :func:`anchor_levels` reads it there.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa

from ..embeddings.cache import load_embeddings

METRICS = ("cosine", "euclidean")
CIRCULAR = ("azimuth",)
_CHUNK = 4096  # rows per distance block
_BOOT_CELLS = 2_000_000  # bootstrap replicates × anchor pairs per block
#: Anchors a sensitivity analysis needs at least: unrelated scenes are rows of two anchors.
MIN_ANCHORS = 2
#: Anchors a bootstrap interval needs at least: with A anchors (the resampled clusters) the
#: likeliest resample has probability A!/A^A (9.4% for 4, 1.5% for 6); below 6 it alone
#: covers a 2.5% tail and the percentiles are artefacts of the few draws (2: zero width).
MIN_INTERVAL_ANCHORS = 6


def check_anchor_count(n_anchors: int, argument: str = "anchor_ids") -> None:
    """ValueError naming ``argument`` unless there are at least :data:`MIN_ANCHORS` anchors."""
    if n_anchors < MIN_ANCHORS:
        raise ValueError(f"{argument}: a sensitivity analysis needs at least {MIN_ANCHORS} "
                         f"anchors (distances between unrelated scenes need two anchors), "
                         f"got {n_anchors}")


def paired_distances(x: np.ndarray, i: np.ndarray, j: np.ndarray, metric: str) -> np.ndarray:
    """Distances between rows ``x[i]`` and ``x[j]``, computed in float64 blocks.

    Parameters
    ----------
    x : ndarray, shape (n, dim)
    i, j : ndarray of int, shape (m,)
    metric : {"cosine", "euclidean"}
        Cosine distance is 1 - cos (0…2); Euclidean is in embedding units.

    Returns
    -------
    ndarray of float64, shape (m,)
    """
    out = np.empty(len(i))
    for start in range(0, len(i), _CHUNK):
        rows_a, rows_b = i[start:start + _CHUNK], j[start:start + _CHUNK]
        a, b = x[rows_a].astype(np.float64), x[rows_b].astype(np.float64)
        if metric == "euclidean":
            d = np.linalg.norm(a - b, axis=1)
        else:
            cos = np.einsum("kd,kd->k", a, b) / (np.linalg.norm(a, axis=1)
                                                 * np.linalg.norm(b, axis=1))
            d = 1.0 - np.clip(cos, -1.0, 1.0)
        out[start:start + _CHUNK] = np.where(rows_a == rows_b, 0.0, d)  # exact 0 to itself
    return out


def _check_inputs(embeddings, anchor_ids, factors, levels, anchor_levels, metric):
    """Arrays of the right shape and type, or a ValueError naming the argument."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    x = np.asarray(embeddings)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"embeddings must be a numeric (n, dim) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or inf")
    if metric == "cosine" and (np.abs(x).max(axis=1) == 0).any():
        raise ValueError("embeddings: a row of zeros has no cosine distance")
    arrays = {"anchor_ids": np.asarray(anchor_ids).astype(str),
              "factors": np.asarray(factors).astype(str)}
    for name, value in (("levels", levels), ("anchor_levels", anchor_levels)):
        value = np.asarray(value)
        if not (value.ndim == 1 and value.dtype.kind in "iuf" and np.isfinite(value).all()
                and (value % 1 == 0).all()):
            raise ValueError(f"{name} must be a 1-D array of integer levels (no NaN)")
        arrays[name] = value.astype(np.int64)
    for name, value in arrays.items():
        if value.shape != (len(x),):
            raise ValueError(f"{name} has shape {value.shape}; embeddings have {len(x)} rows")
    if (arrays["factors"] == "").any():
        raise ValueError("factors: rows with an empty variant_factor are not sensitivity rows")
    return x, arrays


def _groups(codes: np.ndarray, levels: np.ndarray, name: str):
    """The variant groups of one factor (``name``) as a table of row positions.

    From the anchor code and level of each of the factor's m rows ((m,) each): the anchor
    code of each group (G,), the sorted levels (L,), the position of the variant of group
    g at level l (G, L; -1 if absent) and the group of each row (m,).
    """
    group_anchor, g = np.unique(codes, return_inverse=True)
    values, k = np.unique(levels, return_inverse=True)
    index = np.full((len(group_anchor), len(values)), -1)
    if len(np.unique(g * len(values) + k)) != len(codes):
        raise ValueError(f"levels: factor {name!r} has two variants of one anchor at one level")
    index[g, k] = np.arange(len(codes))
    if ((index >= 0).sum(axis=1) < 2).any():
        raise ValueError(f"factors: a group of factor {name!r} has one variant; "
                         "a sensitivity needs at least two levels per anchor")
    return group_anchor, values, index, g


def _variant_sums(x: np.ndarray, rows: np.ndarray, metric: str):
    """Sum and count of the distances between every pair of variants of each group.

    ``rows`` (G, L) holds row indices into ``x`` (-1 if absent); returns (G,), (G,).
    """
    total, count = np.zeros(len(rows)), np.zeros(len(rows))
    for a in range(rows.shape[1]):
        for b in range(a + 1, rows.shape[1]):
            ok = (rows[:, a] >= 0) & (rows[:, b] >= 0)
            total[ok] += paired_distances(x, rows[ok, a], rows[ok, b], metric)
            count[ok] += 1
    return total, count


def unrelated_pairs(codes: np.ndarray, max_pairs: int, rng: np.random.Generator):
    """Pairs of rows of different anchors: all of them, or ``max_pairs`` drawn uniformly.

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Anchor code per row.
    max_pairs : int
    rng : numpy.random.Generator

    Returns
    -------
    i, j : ndarray of int, shape (p,)
        Row indices, p <= max_pairs; the same generator state gives the same pairs.
    """
    n = len(codes)
    if n * (n - 1) // 2 <= 4 * max_pairs:
        i, j = np.triu_indices(n, k=1)
        keep = codes[i] != codes[j]
        i, j = i[keep], j[keep]
        if len(i) > max_pairs:
            pick = np.sort(rng.choice(len(i), max_pairs, replace=False))
            i, j = i[pick], j[pick]
        return i, j
    found, count = [], 0
    while count < max_pairs:  # rejection sampling: uniform over cross-anchor pairs
        pairs = rng.integers(n, size=(2, 2 * max_pairs))
        pairs = pairs[:, codes[pairs[0]] != codes[pairs[1]]]
        found.append(pairs)
        count += pairs.shape[1]
    i, j = np.concatenate(found, axis=1)[:, :max_pairs]
    return i, j


def _boot_unrelated(weights, ci, cj, d):
    """Mean unrelated distance per bootstrap replicate, (B,), from anchor counts (B, A).

    A pair counts as often as both its anchors were drawn: w[a_i] · w[a_j].
    """
    n_anchors = weights.shape[1]
    key = np.minimum(ci, cj) * n_anchors + np.maximum(ci, cj)
    uniq, inverse = np.unique(key, return_inverse=True)
    sums, counts = np.bincount(inverse, d), np.bincount(inverse).astype(float)
    a, b = uniq // n_anchors, uniq % n_anchors
    out = np.empty(len(weights))
    step = max(1, _BOOT_CELLS // len(uniq))
    for start in range(0, len(weights), step):
        w = weights[start:start + step]
        pair_w = w[:, a] * w[:, b]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = (pair_w @ sums) / (pair_w @ counts)
    return out


def _interval(values: np.ndarray):
    """2.5 and 97.5 percentiles of the finite replicates, or None without any."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    return [float(v) for v in np.percentile(values, [2.5, 97.5])]


def _interval_problem(n_anchors: int, n_boot: int) -> str | None:
    """Why a factor's ratio gets no interval, or None."""
    if n_boot == 0:
        return "no resamples asked for"
    if n_anchors < MIN_INTERVAL_ANCHORS:
        return (f"{n_anchors} anchors, fewer than the {MIN_INTERVAL_ANCHORS} a cluster-"
                "bootstrap interval needs")
    return None


def _curve(x, rows, values, anchor_level, metric, circular, unrelated) -> dict:
    """Distance from each group's own-level variant (``anchor_level``, (G,)) to each level.

    Returns ``{"curve": by offset from the anchor's level, "by_level": by level}``, each
    distance averaged over the groups and divided by ``unrelated``.
    """
    own = np.searchsorted(values, anchor_level).clip(max=len(values) - 1)
    ref = rows[np.arange(len(rows)), own]
    if ((values[own] != anchor_level) | (ref < 0)).any():
        raise ValueError("anchor_levels: an anchor has no variant at its own level")
    dist = np.full(rows.shape, np.nan)
    for k in range(len(values)):
        ok = rows[:, k] >= 0
        dist[ok, k] = paired_distances(x, ref[ok], rows[ok, k], metric)
    offset = values[None, :] - anchor_level[:, None]
    if circular:
        offset = offset % len(values)
    ok = ~np.isnan(dist)
    steps, where = np.unique(offset[ok], return_inverse=True)
    per_step = np.bincount(where, dist[ok]) / np.bincount(where)
    per_level = np.nanmean(dist, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where unrelated is 0
        step_ratio, level_ratio = per_step / unrelated, per_level / unrelated
    return {"curve": {"offset": steps.tolist(), "distance": per_step.tolist(),
                      "ratio": step_ratio.tolist(), "n_anchors": np.bincount(where).tolist()},
            "by_level": {"level": values.tolist(), "distance": per_level.tolist(),
                         "ratio": level_ratio.tolist()}}


def _factor(x, arr, codes, factor, unrelated, weights, boot_unrelated, metric, circular):
    """The result of one factor (see :func:`sensitivity`); ``weights`` (B, A) anchor counts
    of the bootstrap replicates, ``boot_unrelated`` (B,) their unrelated distance."""
    mine = np.flatnonzero(arr["factors"] == factor)
    group_anchor, values, index, group = _groups(codes[mine], arr["levels"][mine], factor)
    rows = np.where(index >= 0, mine[np.maximum(index, 0)], -1)
    own = np.zeros(len(group_anchor), np.int64)
    own[group] = arr["anchor_levels"][mine]
    if (own[group] != arr["anchor_levels"][mine]).any():
        raise ValueError(f"anchor_levels: differs within a group of factor {factor!r}")
    total, count = _variant_sums(x, rows, metric)
    variant = float(total.sum() / count.sum())
    interval, problem = None, _interval_problem(len(group_anchor), len(weights))
    if problem is None:
        w = weights[:, group_anchor]
        with np.errstate(invalid="ignore", divide="ignore"):
            interval = _interval((w @ total) / (w @ count) / boot_unrelated)
    # a layer whose unrelated scenes never differ (one dimension under cosine) has no ratio
    ratio = variant / unrelated if unrelated > 0 else float("nan")
    return {"ratio": ratio, "interval": interval,
            **({"no_interval": problem} if problem else {}),
            "variant_distance": variant, "unrelated_distance": unrelated,
            "n_anchors": len(group_anchor), "n_scenes": len(mine), "n_boot": len(weights),
            "n_variant_pairs": int(count.sum()), "metric": metric,
            **_curve(x, rows, values, own, metric, factor in circular, unrelated)}


def sensitivity(embeddings, anchor_ids, factors, levels, anchor_levels, metric: str = "cosine",
                n_boot: int = 1000, seed: int = 0, max_pairs: int = 20000,
                circular=CIRCULAR) -> dict:
    """Sensitivity of an embedding to each factor, with bootstrap intervals and curves.

    Parameters
    ----------
    embeddings : array, shape (n, dim)
        One row per variant scene (any one channel format).
    anchor_ids : array of str, shape (n,)
        Anchor scene of each row (``anchor_id``).
    factors : array of str, shape (n,)
        The factor the row's group moves (``variant_factor``).
    levels : array of int, shape (n,)
        The row's level of that factor (``variant_level``).
    anchor_levels : array of int, shape (n,)
        The anchor's own level of that factor (see :func:`anchor_levels`); its group must
        hold a variant at that level.
    metric : {"cosine", "euclidean"}
    n_boot : int
        Cluster-bootstrap replicates (anchors drawn with replacement); 0 skips intervals.
    seed : int
        Seeds the sample of unrelated pairs and the bootstrap.
    max_pairs : int
        Unrelated pairs used at most (all of them when there are fewer).
    circular : sequence of str
        Factors whose level offsets wrap (azimuth: offset 7 of 8 is 315°).

    Returns
    -------
    dict of str to dict
        Per factor: ``ratio`` (variant ÷ unrelated), ``interval`` ([low, high] 95%, or
        None with the reason in ``no_interval``: no resamples, or fewer than
        :data:`MIN_INTERVAL_ANCHORS` anchors), ``variant_distance`` and
        ``unrelated_distance`` (metric units), ``n_anchors``, ``n_scenes`` (the factor's
        rows), ``n_boot``, ``n_variant_pairs``, ``n_unrelated_pairs``, ``metric``,
        ``curve`` (``offset`` = level − anchor's level, wrapped for circular factors;
        ``distance``, ``ratio`` to unrelated, ``n_anchors`` per offset) and ``by_level``
        (``level``, ``distance``, ``ratio``). Plain floats and lists (JSON-ready).
    """
    if n_boot < 0 or max_pairs < 1:
        raise ValueError(f"need n_boot >= 0 and max_pairs >= 1, got {n_boot}, {max_pairs}")
    x, arr = _check_inputs(embeddings, anchor_ids, factors, levels, anchor_levels, metric)
    names, codes = np.unique(arr["anchor_ids"], return_inverse=True)
    check_anchor_count(len(names))
    pair_rng, boot_rng = (np.random.default_rng([seed, k]) for k in (0, 1))
    ui, uj = unrelated_pairs(codes, max_pairs, pair_rng)
    ud = paired_distances(x, ui, uj, metric)
    unrelated = float(ud.mean())
    weights = boot_rng.multinomial(len(names), np.full(len(names), 1 / len(names)), n_boot)
    weights = weights.astype(float)
    boot_unrelated = _boot_unrelated(weights, codes[ui], codes[uj], ud) if n_boot else None
    out = {}
    for factor in sorted(set(arr["factors"].tolist())):
        out[factor] = _factor(x, arr, codes, factor, unrelated, weights, boot_unrelated,
                              metric, circular)
        out[factor]["n_unrelated_pairs"] = len(ud)
    return out


def _column(labels, name: str) -> np.ndarray:
    """A column of a pyarrow Table, a ``datasets.Dataset`` or a dict of arrays."""
    if isinstance(labels, pa.Table):
        return labels.column(name).to_numpy(zero_copy_only=False)
    return np.asarray(labels[name])


def anchor_levels(labels) -> np.ndarray:
    """The anchor's own level of each row's factor, read from its other factors' variants.

    A variant of factor g keeps every other factor at the anchor's level, so for a row of
    factor f the anchor's level of f is the value of column f on any row of the same
    anchor whose ``variant_factor`` is not f.

    Parameters
    ----------
    labels : pyarrow.Table, datasets.Dataset or dict of arrays
        Columns ``anchor_id``, ``variant_factor`` and one level column per varied factor.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    anchors = _column(labels, "anchor_id").astype(str)
    factors = _column(labels, "variant_factor").astype(str)
    names, codes = np.unique(anchors, return_inverse=True)
    out = np.full(len(anchors), -1, dtype=np.int64)
    for factor in np.unique(factors):
        column = _column(labels, factor).astype(np.int64)
        other = factors != factor
        known = np.full(len(names), -1)
        known[codes[other]] = column[other]
        clash = other & (known[codes] != column)
        mine = factors == factor
        if clash.any() or (known[codes[mine]] < 0).any():
            raise ValueError(f"labels: cannot read the anchors' level of {factor!r} from "
                             "their other variants (they disagree, or the anchor varies no "
                             "other factor); pass anchor_levels yourself")
        out[mine] = known[codes[mine]]
    return out


def sensitivity_from_cache(folder, channel_format: str, layer: str | None = None,
                           metric: str = "cosine", n_boot: int = 1000, seed: int = 0,
                           max_pairs: int = 20000) -> dict:
    """Sensitivity of every cached layer (or one) of an encoder on the sensitivity config.

    Parameters
    ----------
    folder : str or Path
        Cache folder of an (encoder, corpus) pair (``embed_corpus(...).folder``) holding
        the ``sensitivity`` config's ``test`` split in ``channel_format``.
    channel_format : str
    layer : str, optional
    metric, n_boot, seed, max_pairs
        As in :func:`sensitivity`.

    Returns
    -------
    dict
        ``{layer: {factor: {...}}}`` as :func:`sensitivity` returns per layer.
    """
    embeddings, labels = load_embeddings(folder, "sensitivity", "test", layer, channel_format)
    columns = [_column(labels, n) for n in ("anchor_id", "variant_factor", "variant_level")]
    own = anchor_levels(labels)
    out = {}
    for name, x in embeddings.items():
        if metric == "cosine" and layer is None and (np.abs(x).max(axis=1) == 0).any():  # e.g. a 0 ms delay
            warnings.warn(f"sensitivity: layer {name!r} left out: a row of zeros has no "
                          "cosine distance", stacklevel=2)
            continue
        out[name] = sensitivity(x, *columns, own, metric=metric, n_boot=n_boot, seed=seed,
                                max_pairs=max_pairs)
    if not out:
        raise ValueError("embeddings: every layer has a row of zeros, which has no cosine "
                         "distance")
    return out
