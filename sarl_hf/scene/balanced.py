"""Balanced scene designs.

``design`` draws every factor's levels as a balanced sequence (each level n/L times, ±1,
per split), gives every source a dry clip of its split, and then places the scene
(:mod:`.placement`). A geometric conflict (a 3 m source in a 30 m³ room) is solved by
trying other room proportions, heights and listener positions, never by changing a level.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..acoustics.formats import check_format
from ..checks import check_integer, check_memory
from ..sources import SourceBank, as_bank
from ..sources.base import check_duration, check_sample_rate, check_seed
from ..splits import SPLITS
from .factors import FACTORS, SOURCE_FACTORS, FactorConfig, balanced_levels
from .placement import place
from .spec import SceneSpec, SourceSpec

MAX_SWAPS = 1000  # level trades between scenes whose extra sources do not fit
TRADES_PER_SCENE = 8  # then the scene's extra sources move nearer instead


def _scene_seed(seed: int, split: str, index: int) -> int:
    state = np.random.SeedSequence([seed, SPLITS.index(split), index]).generate_state(1)
    return int(state[0])


#: Memory one scene spec of a design takes, at most (bytes; about 2.4 KB measured).
SPEC_BYTES = 4096


def _check_design_args(n, split, seed, factors, channel_format, sample_rate, duration_s,
                       num_sources, classes) -> None:
    """Refuse bad arguments before anything is drawn (a design of ``n`` scenes holds ``n``
    specs: more than memory holds is refused by arithmetic)."""
    check_integer("n", n, 1)
    check_memory(f"a design of {n} scenes", n * SPEC_BYTES * num_sources)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    check_seed(seed)
    if factors is not None and not isinstance(factors, FactorConfig):
        raise ValueError(f"factors must be a FactorConfig or None, got "
                         f"{type(factors).__name__} {factors!r}")
    check_format(channel_format)
    check_sample_rate(sample_rate)
    check_duration(duration_s)
    check_integer("num_sources", num_sources, 1, len(classes))


def _distinct_classes(classes: np.ndarray, j: int, n_classes: int, rng) -> None:
    """Make source j's class differ from sources < j in every scene, by swapping class
    levels between scenes (so source j's class counts stay balanced)."""
    n = classes.shape[1]
    clashes = lambda i: classes[j, i] in classes[:j, i]  # noqa: E731
    for i in range(n):
        if not clashes(i):
            continue
        for k in rng.permutation(n):
            classes[j, [i, k]] = classes[j, [k, i]]
            if not clashes(i) and not clashes(k):
                break
            classes[j, [i, k]] = classes[j, [k, i]]
        else:
            _replace_class(classes, j, i, n_classes)


def _replace_class(classes: np.ndarray, j: int, i: int, n_classes: int) -> None:
    """Give source j of scene i the least-used class (in source j's row) that no other
    source of the scene has: the fallback when no swap helps (few scenes)."""
    counts = np.bincount(classes[j], minlength=n_classes)
    free = [c for c in np.argsort(counts, kind="stable") if c not in classes[:j, i]]
    if free:
        counts[classes[j, i]] -= 1
        counts[free[0]] += 1
        if counts.max() - counts.min() <= 1:
            classes[j, i] = free[0]
            return
    raise RuntimeError("cannot give every source of a scene its own class")


def _source_levels(n, num_sources, config, n_classes, rng):
    """Balanced level indices per source: {factor: (num_sources, n)}."""
    levels = {f: np.stack([balanced_levels(n, len(config.levels(f, range(n_classes))), rng)
                           for _ in range(num_sources)]) for f in SOURCE_FACTORS}
    for j in range(1, num_sources):
        _distinct_classes(levels["class"], j, n_classes, rng)
    return levels


def _make_source(levels: dict, config, classes, clip_id, rng) -> SourceSpec:
    half = config.sector_width_deg / 2
    azimuth = levels["azimuth"] * config.sector_width_deg + rng.uniform(-half, half)
    elevation = config.elevation_levels_deg[levels["elevation"]] + rng.uniform(
        -config.elevation_jitter_deg, config.elevation_jitter_deg)
    distance = config.distance_levels_m[levels["distance"]] + rng.uniform(
        -config.distance_jitter_m, config.distance_jitter_m)
    return SourceSpec(azimuth_deg=round(float(azimuth % 360.0), 6),
                      elevation_deg=round(float(np.clip(elevation, -90, 90)), 6),
                      distance_m=round(float(distance), 6), class_name=classes[levels["class"]],
                      clip_id=clip_id, levels={k: int(v) for k, v in levels.items()})


def design(n: int, split: str = "train", seed: int = 0, factors: FactorConfig | None = None,
           bank: SourceBank | None = None, channel_format: str = "mono",
           sample_rate: int = 16000, duration_s: float = 4.0,
           num_sources: int = 1, id_prefix: str = "") -> list[SceneSpec]:
    """A balanced list of scene specs for one split.

    Every level of every factor occurs n/L times (±1) among the scenes (for every source
    position when ``num_sources`` > 1); the dry clips come from the bank's clips of this
    split only, so splits never share a clip.

    Parameters
    ----------
    n : int
        Number of scenes.
    split : str
        ``train``, ``validation`` or ``test``; each split draws its own levels and clips.
    seed : int
        Same seed, same specs.
    factors : FactorConfig, optional
        Levels and ranges (defaults of the SARL design).
    bank : SourceBank, optional
        Dry clips, or a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``);
        default ``ProceduralBank()``. Its classes are the class levels.
    channel_format, sample_rate, duration_s
        Copied into every spec (a spec renders in any format: ``spec.with_format``).
    num_sources : int
        Simultaneous sources per scene, each of a different class. When extra sources
        do not fit together in a scene, their positions are traded with another scene;
        in very small designs where trades do not help, an extra source moves a distance
        level nearer (the primary source's levels never change).
    id_prefix : str
        Put before every scene id (``<prefix><split>-<seed>-<index>``), so that designs
        of different corpora never share an id.

    Returns
    -------
    list of SceneSpec
    """
    bank = as_bank(bank)
    classes = bank.classes
    _check_design_args(n, split, seed, factors, channel_format, sample_rate, duration_s,
                       num_sources, classes)
    config = factors or FactorConfig()
    n, seed = int(n), int(seed)
    rng = np.random.default_rng([seed, SPLITS.index(split), 0])
    room_levels = {f: balanced_levels(n, len(config.levels(f)), rng)
                   for f in FACTORS if f not in SOURCE_FACTORS}
    source_levels = _source_levels(n, num_sources, config, len(classes), rng)
    clips = _assign_clips(bank, split, source_levels["class"], rng)
    specs, pending, swaps = [None] * n, deque(range(n)), 0
    failures = np.zeros(n, int)
    while pending:
        i = pending.popleft()
        levels = {f: int(room_levels[f][i]) for f in room_levels}
        sources, placed = _place_scene(levels, source_levels, clips, i, config, classes,
                                       np.random.default_rng([seed, SPLITS.index(split), 1, i]))
        if placed is not None:
            specs[i] = SceneSpec(room=placed[0], listener=placed[1], sources=sources,
                                 channel_format=channel_format, sample_rate=sample_rate,
                                 duration_s=duration_s, seed=_scene_seed(seed, split, i),
                                 split=split, levels=levels,
                                 scene_id=f"{id_prefix}{split}-{seed}-{i:06d}")
            continue
        if num_sources == 1 or swaps >= MAX_SWAPS:
            raise RuntimeError(f"scene {i}: no legal room and listener for levels {levels} "
                               f"and sources {sources} after {config.placement_tries} tries")
        failures[i] += 1
        if n == 1 or failures[i] > TRADES_PER_SCENE:
            _bring_extra_source_nearer(source_levels["distance"], i, levels, sources)
            pending.appendleft(i)
            continue
        # the extra sources do not fit together: trade their positions with another scene
        k = int(rng.choice([x for x in range(n) if x != i]))
        for f in ("azimuth", "elevation", "distance"):
            source_levels[f][1:, [i, k]] = source_levels[f][1:, [k, i]]
        swaps += 1
        pending.appendleft(i)
        if specs[k] is not None:
            specs[k] = None
            pending.append(k)
    return specs


def _bring_extra_source_nearer(distance_levels, i, levels, sources) -> None:
    """Move scene i's farthest extra source one distance level nearer (the last resort
    when trades cannot fit the extra sources: very small designs)."""
    extra = distance_levels[1:, i]
    if extra.max() == 0:
        raise RuntimeError(f"scene {i}: no legal room and listener for levels {levels} and "
                           f"sources {sources}, even with the extra sources nearest")
    extra[int(np.argmax(extra))] -= 1


def _assign_clips(bank, split, class_levels, rng):
    """Clip id per (source, scene): each class cycles through its shuffled clips."""
    classes = bank.classes
    pools = {c: list(rng.permutation(bank.clip_ids(split, c))) for c in classes}
    used = dict.fromkeys(classes, 0)
    clips = np.empty(class_levels.shape, dtype=object)
    for i in range(class_levels.shape[1]):
        for j in range(class_levels.shape[0]):
            name = classes[class_levels[j, i]]
            clips[j, i] = str(pools[name][used[name] % len(pools[name])])
            used[name] += 1
    return clips


def _place_scene(levels, source_levels, clips, i, config, classes, rng):
    """Sources of scene i and a (room, listener) that holds them, or None."""
    sources = [_make_source({f: int(source_levels[f][j, i]) for f in SOURCE_FACTORS},
                            config, classes, clips[j, i], rng)
               for j in range(clips.shape[0])]
    volume = config.volume_levels_m3[levels["volume"]] * rng.uniform(
        1 - config.volume_jitter, 1 + config.volume_jitter)
    return sources, place(sources, config, rng, shape=config.shapes[levels["shape"]],
                          volume_m3=volume, rt60_s=config.rt60_levels_s[levels["rt60"]])
