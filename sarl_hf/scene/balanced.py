"""Balanced scene designs and one-factor-at-a-time sensitivity designs.

``design`` draws every factor's levels as a balanced sequence (each level n/L times, ±1,
per split) and then finds a room and a listener placement where the scene is legal.
A geometric conflict (a 3 m source in a 30 m³ room) is solved by trying other room
proportions, heights and listener positions, never by changing a level.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..acoustics.formats import FORMATS
from ..sources import SourceBank, as_bank
from ..splits import SPLITS
from .factors import FACTORS, SOURCE_FACTORS, FactorConfig, balanced_levels
from .geometry import contains, eyring_absorption, floor_polygon, segments_blocked
from .spec import ListenerSpec, RoomSpec, SceneSpec, SourceSpec

_CANDIDATES = 256  # listener positions tried at once in one room
_SLACK_M = 1e-3  # headroom over the lowest legal ceiling
MAX_SWAPS = 1000  # level trades between scenes whose extra sources do not fit
TRADES_PER_SCENE = 8  # then the scene's extra sources move nearer instead


def _relative_xy(sources, yaw_deg):
    """Floor-plane offsets (k, s, 2) of sources from listeners with yaws (k,)."""
    az = np.deg2rad(yaw_deg[:, None] + np.array([s.azimuth_deg for s in sources])[None])
    reach = np.array([s.distance_m * np.cos(np.deg2rad(s.elevation_deg)) for s in sources])
    return reach[None, :, None] * np.stack([np.cos(az), np.sin(az)], axis=-1)


def _listener_height_range(sources, config: FactorConfig, height_m: float | None):
    """Ear heights at which every source stays inside [margin, height - margin]."""
    margin = config.wall_margin_m
    rise = np.array([s.distance_m * np.sin(np.deg2rad(s.elevation_deg)) for s in sources])
    low = max(config.listener_height_range_m[0], margin - rise.min())
    high = config.listener_height_range_m[1]
    if height_m is not None:
        high = min(high, height_m - margin - rise.max())
    return low, high, rise


def _new_room(shape, volume_m3, rt60_s, z_listener, rise, config, rng):
    low = max(config.height_range_m[0],
              z_listener + max(rise.max(), 0) + config.wall_margin_m + _SLACK_M)
    if low > config.height_range_m[1]:
        return None
    # half the rooms as low as the sources allow: the widest floor for far sources
    height = low if rng.random() < 0.5 else rng.uniform(low, config.height_range_m[1])
    corners = floor_polygon(shape, volume_m3 / height, rng)
    room = RoomSpec(shape, np.round(corners, 6).tolist(), float(height), float(rt60_s))
    try:
        eyring_absorption(room.volume_m3, room.surface_m2, rt60_s)
    except ValueError:
        return None
    return room


def _legal_mask(room: RoomSpec, xy, z_listener, yaw_deg, sources, margin_m):
    """Which listener candidates (xy (k, 2), yaws (k,)) hold all sources legally."""
    corners = room.corners
    rise = np.array([s.distance_m * np.sin(np.deg2rad(s.elevation_deg)) for s in sources])
    heights = np.append(z_listener + rise, z_listener)
    if heights.min() < margin_m or heights.max() > room.height_m - margin_m:
        return np.zeros(len(xy), bool)
    points = xy[:, None, :] + _relative_xy(sources, yaw_deg)  # (k, s, 2)
    ok = contains(corners, xy, margin_m)
    ok &= contains(corners, points.reshape(-1, 2), margin_m).reshape(points.shape[:2]).all(1)
    for s in range(points.shape[1]):
        candidates = np.nonzero(ok)[0]
        ok[candidates] &= ~segments_blocked(corners, xy[candidates], points[candidates, s])
    return ok


def is_legal(room: RoomSpec, listener: ListenerSpec, sources, config: FactorConfig) -> bool:
    """Whether the listener and every source keep the design's margins and see each other."""
    xy = np.asarray(listener.position_m[:2], float)[None]
    return bool(_legal_mask(room, xy, listener.position_m[2], np.array([listener.yaw_deg]),
                            sources, config.wall_margin_m - 1e-6)[0])  # specs store 6 decimals


def _listener_in(room: RoomSpec, z_listener, sources, config, rng):
    """A legal listener (xy, yaw) for all sources in this room, or None."""
    corners = room.corners
    xy = rng.uniform(corners.min(axis=0), corners.max(axis=0), size=(_CANDIDATES, 2))
    yaw = rng.uniform(0.0, 360.0, size=_CANDIDATES)
    ok = _legal_mask(room, xy, z_listener, yaw, sources, config.wall_margin_m)
    if not ok.any():
        return None
    k = int(np.argmax(ok))
    return ListenerSpec(np.round([*xy[k], z_listener], 6).tolist(), round(float(yaw[k]), 6))


def place(sources, config: FactorConfig, rng: np.random.Generator, *, room: RoomSpec = None,
          shape=None, volume_m3=None, rt60_s=None):
    """Find a room and a listener where all ``sources`` are legal together.

    Parameters
    ----------
    sources : list of SourceSpec
        Directions and distances relative to the listener.
    config : FactorConfig
    rng : numpy.random.Generator
    room : RoomSpec, optional
        Keep this room and only move the listener; otherwise rooms of ``shape``,
        ``volume_m3`` and ``rt60_s`` with new proportions and heights are tried.

    Returns
    -------
    (RoomSpec, ListenerSpec) or None
        None when ``config.placement_tries`` attempts found nothing.

    Raises
    ------
    ValueError
        When no room within ``config.height_range_m`` can hold the sources.
    """
    low, high, rise = _listener_height_range(
        sources, config, None if room is None else room.height_m)
    if room is None and (low > high or low + max(rise.max(), 0) + config.wall_margin_m
                         > config.height_range_m[1]):
        raise ValueError(f"height_range_m {config.height_range_m} / listener_height_range_m "
                         f"{config.listener_height_range_m} cannot hold sources "
                         f"{[(s.elevation_deg, s.distance_m) for s in sources]} (elevation, m)")
    if low > high:
        return None
    for _ in range(config.placement_tries):
        z_listener = rng.uniform(low, high)
        candidate = room or _new_room(shape, volume_m3, rt60_s, z_listener, rise, config, rng)
        if candidate is None:
            continue
        listener = _listener_in(candidate, z_listener, sources, config, rng)
        if listener is not None:
            return candidate, listener
    return None


def _scene_seed(seed: int, split: str, index: int) -> int:
    state = np.random.SeedSequence([seed, SPLITS.index(split), index]).generate_state(1)
    return int(state[0])


def _check_design_args(n, split, channel_format, num_sources, classes):
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if channel_format not in FORMATS:
        raise ValueError(f"channel_format must be one of {FORMATS}, got {channel_format!r}")
    if not 1 <= num_sources <= len(classes):
        raise ValueError(f"num_sources must be in [1, {len(classes)}], got {num_sources}")


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
    config = factors or FactorConfig()
    bank = as_bank(bank)
    classes = bank.classes
    _check_design_args(n, split, channel_format, num_sources, classes)
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
