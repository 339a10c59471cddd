"""Placing a scene: a room of the requested shape, volume and RT60, and a listener
position and facing, such that every source sits at its requested direction and distance
inside the room (at least the wall margin from every surface) and is visible from the
listener. Rooms of other proportions and heights, and other listener positions, are tried
until one fits; a level is never changed.
"""

from __future__ import annotations

import numpy as np

from ..acoustics.rooms import contains, eyring_absorption, floor_polygon, segments_blocked
from .factors import FactorConfig
from .spec import ListenerSpec, RoomSpec

_CANDIDATES = 256  # listener positions tried at once in one room
_SLACK_M = 1e-3  # headroom over the lowest legal ceiling


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
