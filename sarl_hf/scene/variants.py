"""Sensitivity design: for each anchor scene, variants that move exactly one factor.

Every variant keeps the anchor's dry clip (for ``class``, the clip at the same position
in the new class's list), seed (so the same tail noise), channel format and every other
factor. The listener stays where the anchor had it when all of a factor's variants are
legal there; otherwise one listener position legal for all of them is searched in the
same room, then a position per variant, and only then a new room of the same shape,
volume and RT60. ``variant["placement"]`` records which: ``anchor``, ``shared``,
``per_variant`` or ``new_room``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..acoustics.rooms import eyring_absorption, floor_polygon, polygon_area
from ..sources import SourceBank, as_bank
from .balanced import design
from .factors import FACTORS, SOURCE_FACTORS, FactorConfig
from .placement import is_legal, place
from .spec import RoomSpec, SceneSpec, SourceSpec


def _source_variant(source: SourceSpec, factor, level, config, bank, split) -> SourceSpec:
    levels = dict(source.levels, **{factor: level})
    if factor == "azimuth":
        offset = source.azimuth_deg - source.levels["azimuth"] * config.sector_width_deg
        azimuth = (level * config.sector_width_deg + offset) % 360.0
        return replace(source, azimuth_deg=round(azimuth, 6), levels=levels)
    if factor == "elevation":
        nominal = config.elevation_levels_deg
        offset = source.elevation_deg - nominal[source.levels["elevation"]]
        elevation = float(np.clip(nominal[level] + offset, -90, 90))
        return replace(source, elevation_deg=round(elevation, 6), levels=levels)
    if factor == "distance":
        nominal = config.distance_levels_m
        offset = source.distance_m - nominal[source.levels["distance"]]
        return replace(source, distance_m=round(nominal[level] + offset, 6), levels=levels)
    old = bank.clip_ids(split, source.class_name)
    new_class = bank.classes[level]
    new = bank.clip_ids(split, new_class)
    clip = new[old.index(source.clip_id) % len(new)]
    return replace(source, class_name=new_class, clip_id=clip, levels=levels)


def _room_variant(anchor: SceneSpec, factor, level, config, rng) -> RoomSpec:
    room = anchor.room
    if factor == "rt60":
        return replace(room, rt60_s=float(config.rt60_levels_s[level]))
    area = polygon_area(room.corners)
    if factor == "volume":
        ratio = config.volume_levels_m3[level] / config.volume_levels_m3[anchor.levels["volume"]]
        corners = room.corners * np.sqrt(ratio)
        return replace(room, floor_m=np.round(corners, 6).tolist())
    if level == anchor.levels["shape"]:
        return room
    corners = floor_polygon(config.shapes[level], area, rng)
    return replace(room, shape=config.shapes[level], floor_m=np.round(corners, 6).tolist())


def _scaled_listener(anchor: SceneSpec, room: RoomSpec):
    """The anchor's listener moved with the floor when a room is scaled."""
    scale = np.sqrt(polygon_area(room.corners) / polygon_area(anchor.room.corners))
    x, y, z = anchor.listener.position_m
    return replace(anchor.listener, position_m=[round(x * scale, 6), round(y * scale, 6), z])


def _placed(anchor, rooms, listeners, sources_list, config, rng):
    """Listeners for each variant, and how they were found."""
    if all(is_legal(room, listener, sources, config)
           for room, listener, sources in zip(rooms, listeners, sources_list)):
        return rooms, listeners, "anchor"
    if len({id(r) for r in rooms}) == 1:  # one room: try one listener for all variants
        union = [s for sources in sources_list for s in sources]
        found = place(union, config, rng, room=rooms[0])
        if found is not None:
            return rooms, [found[1]] * len(rooms), "shared"
    out_rooms, out_listeners, how = [], [], "per_variant"
    for room, listener, sources in zip(rooms, listeners, sources_list):
        if is_legal(room, listener, sources, config):
            out_rooms.append(room), out_listeners.append(listener)
            continue
        found = place(sources, config, rng, room=room)
        if found is None:
            how = "new_room"
            found = place(sources, config, rng, shape=room.shape, volume_m3=room.volume_m3,
                          rt60_s=room.rt60_s)
        if found is None:
            raise RuntimeError(f"no legal placement for a variant of {anchor.scene_id}")
        out_rooms.append(found[0]), out_listeners.append(found[1])
    return out_rooms, out_listeners, how


def factor_variants(anchor: SceneSpec, factor: str, n_levels: int, config: FactorConfig,
                    bank: SourceBank, rng: np.random.Generator) -> list[SceneSpec]:
    """The variants of one anchor that move ``factor`` across its levels, one per level.

    Parameters
    ----------
    anchor : SceneSpec
        Its ``levels`` (room factors) and its primary source's ``levels`` (source factors)
        say where the anchor sits among ``config``'s levels: the variants keep the
        anchor's offset from its nominal level (azimuth, elevation, distance) or its
        ratio to it (volume).
    factor : str
        One of ``FACTORS``.
    n_levels : int
        Levels of ``factor`` in ``config`` (the bank's classes for ``class``).
    config : FactorConfig
        The levels moved across; any levels, not only the SARL defaults.
    bank : SourceBank
        Gives the clip of each class (``class``: the clip at the anchor's clip's position).
    rng : numpy.random.Generator
        Draws new room proportions (``shape``) and listener positions where needed.

    Returns
    -------
    list of SceneSpec, length n_levels
        Variant k at level k; ``variant`` records the anchor, factor, level and how the
        listener was placed.
    """
    primary = anchor.sources[0]
    if factor in SOURCE_FACTORS:
        rooms = [anchor.room] * n_levels
        sources_list = [[_source_variant(primary, factor, k, config, bank, anchor.split)]
                        + anchor.sources[1:] for k in range(n_levels)]
        listeners = [anchor.listener] * n_levels
    else:
        rooms = [_room_variant(anchor, factor, k, config, rng) for k in range(n_levels)]
        sources_list = [anchor.sources] * n_levels
        listeners = [_scaled_listener(anchor, r) if factor == "volume" else anchor.listener
                     for r in rooms]
    rooms, listeners, how = _placed(anchor, rooms, listeners, sources_list, config, rng)
    out = []
    for k, (room, listener, sources) in enumerate(zip(rooms, listeners, sources_list)):
        eyring_absorption(room.volume_m3, room.surface_m2, room.rt60_s)
        levels = dict(anchor.levels, **({} if factor in SOURCE_FACTORS else {factor: k}))
        out.append(replace(anchor, room=room, listener=listener, sources=sources,
                           levels=levels, scene_id=f"{anchor.scene_id}-{factor}-{k}",
                           variant={"anchor": anchor.scene_id, "factor": factor,
                                    "level": k, "placement": how}))
    return out


def sensitivity_design(n_anchors: int, seed: int = 0, factors: FactorConfig | None = None,
                       bank: SourceBank | None = None, vary=FACTORS, split: str = "test",
                       **design_kwargs) -> list[SceneSpec]:
    """One-factor-at-a-time variants of balanced anchor scenes.

    Parameters
    ----------
    n_anchors : int
        Anchor scenes (a balanced ``design`` of this split).
    seed : int
    factors : FactorConfig, optional
    bank : SourceBank, optional
        Or a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``); default
        ``ProceduralBank()``.
    vary : sequence of str
        Factors to sweep; each gives one group of variants per anchor, one per level.
    split : str
        Split whose clips the anchors use.
    **design_kwargs
        ``channel_format``, ``sample_rate``, ``duration_s``, ``num_sources`` for ``design``.

    Returns
    -------
    list of SceneSpec
        Grouped by anchor then factor; ``spec.variant`` says which.
    """
    config = factors or FactorConfig()
    bank = as_bank(bank)
    unknown = set(vary) - set(FACTORS)
    if unknown:
        raise ValueError(f"vary: unknown factors {sorted(unknown)}; known {FACTORS}")
    anchors = design(n_anchors, split=split, seed=seed, factors=config, bank=bank,
                     **design_kwargs)
    specs = []
    for a, anchor in enumerate(anchors):
        for f, factor in enumerate(vary):
            rng = np.random.default_rng([seed, a, FACTORS.index(factor), 7])
            n_levels = len(config.levels(factor, bank.classes))
            specs.extend(factor_variants(anchor, factor, n_levels, config, bank, rng))
    return specs
