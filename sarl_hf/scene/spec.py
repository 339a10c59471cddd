"""The scene specification: everything needed to render one scene, as plain data.

A ``SceneSpec`` is a small serialisable dataclass (``to_dict``/``from_dict``/JSON). Source
positions are stored relative to the listener (azimuth, elevation, distance in the
listener's frame), so that the labels are exact by construction and a sensitivity variant
can move exactly one factor.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields, replace

import numpy as np

from ..acoustics.directions import unit_vector
from ..acoustics.formats import format_names
from ..acoustics.rooms import (SHAPES, contains, eyring_absorption, polygon_area, segments_blocked,
                               surface_area)
from ..sources.base import MAX_SAMPLE_RATE, MIN_DURATION_S, MIN_SAMPLE_RATE
from ..splits import SPLITS

WALL_CLEARANCE_M = 0.1  # the smallest distance of a source or the listener to a surface
#: Gains (dB) a dry clip may get: beyond them a scene is silence or clipping.
MIN_GAIN_DB, MAX_GAIN_DB = -60.0, 40.0


@dataclass
class RoomSpec:
    """A prism room.

    Attributes
    ----------
    shape : str
        One of ``acoustics.rooms.SHAPES``.
    floor_m : list of [x, y]
        Floor corners, counter-clockwise, metres.
    height_m : float
    rt60_s : float
        Target reverberation time; the wall absorption is chosen (Eyring) to reach it.
    """

    shape: str
    floor_m: list
    height_m: float
    rt60_s: float

    @property
    def corners(self) -> np.ndarray:
        """Floor corners as an array, shape (n, 2)."""
        return np.asarray(self.floor_m, float)

    @property
    def volume_m3(self) -> float:
        return polygon_area(self.corners) * self.height_m

    @property
    def surface_m2(self) -> float:
        return surface_area(self.corners, self.height_m)

    @property
    def absorption(self) -> float:
        """Uniform energy absorption coefficient reaching ``rt60_s`` (Eyring)."""
        return eyring_absorption(self.volume_m3, self.surface_m2, self.rt60_s)


@dataclass
class ListenerSpec:
    """The listener: head centre (or array centre) and facing direction.

    Attributes
    ----------
    position_m : [x, y, z]
        World coordinates, metres.
    yaw_deg : float
        Facing direction, counter-clockwise from the world +x axis, degrees.
    """

    position_m: list
    yaw_deg: float = 0.0

    def to_world(self, directions: np.ndarray) -> np.ndarray:
        """Rotate listener-frame vectors (n, 3) into world-frame vectors (n, 3)."""
        yaw = np.deg2rad(self.yaw_deg)
        rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0],
                        [0, 0, 1]])
        return directions @ rot.T

    def to_listener(self, points_m: np.ndarray) -> np.ndarray:
        """World points (n, 3) as listener-frame vectors (n, 3) from the listener."""
        yaw = np.deg2rad(self.yaw_deg)
        rot = np.array([[np.cos(yaw), np.sin(yaw), 0], [-np.sin(yaw), np.cos(yaw), 0],
                        [0, 0, 1]])
        return (points_m - np.asarray(self.position_m, float)) @ rot.T


@dataclass
class SourceSpec:
    """One sound source placed relative to the listener.

    Attributes
    ----------
    azimuth_deg, elevation_deg : float
        Direction in the listener's frame (0° front, +90° left; +90° up).
    distance_m : float
        From the listener centre.
    class_name, clip_id : str
        The dry clip, as named by its source bank.
    gain_db : float
        Level of the dry clip relative to the bank's normalised level.
    levels : dict
        Nominal factor levels (index into the factor's levels), e.g. ``{"azimuth": 3}``.
    """

    azimuth_deg: float
    elevation_deg: float
    distance_m: float
    class_name: str
    clip_id: str
    gain_db: float = 0.0
    levels: dict = field(default_factory=dict)

    def position_m(self, listener: ListenerSpec) -> np.ndarray:
        """World position, shape (3,), metres."""
        offset = self.distance_m * unit_vector(self.azimuth_deg, self.elevation_deg)
        return np.asarray(listener.position_m, float) + listener.to_world(offset[None])[0]


@dataclass
class SceneSpec:
    """Everything needed to render one scene; its seed makes it reproducible.

    Attributes
    ----------
    room, listener, sources
        Geometry; ``sources[0]`` is the primary source whose labels a scene carries.
    channel_format : str
        A registered channel format (``acoustics.formats.format_names()``).
    sample_rate : int
        Hz.
    duration_s : float
    seed : int
        Seeds everything random in rendering (the diffuse tail).
    split : str
        ``train``, ``validation`` or ``test``.
    scene_id : str
    levels : dict
        Nominal room-factor levels (index into the factor's levels), e.g. ``{"rt60": 2}``.
    variant : dict
        For sensitivity variants: ``{"anchor": id, "factor": name, "level": index,
        "placement": how the listener was placed}``; empty otherwise.
    """

    room: RoomSpec
    listener: ListenerSpec
    sources: list
    channel_format: str = "mono"
    sample_rate: int = 16000
    duration_s: float = 4.0
    seed: int = 0
    split: str = "train"
    scene_id: str = ""
    levels: dict = field(default_factory=dict)
    variant: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SceneSpec":
        """The spec a :meth:`to_dict` dict describes; a missing, unknown or mistyped field
        is a ValueError naming it (``room.height_m``, ``sources[1]``)."""
        d = _fields_of(cls, d, "spec")
        d["room"] = RoomSpec(**_fields_of(RoomSpec, d["room"], "room"))
        d["listener"] = ListenerSpec(**_fields_of(ListenerSpec, d["listener"], "listener"))
        if not isinstance(d["sources"], (list, tuple)):
            _fail("sources", f"must be a list of source dicts, got "
                  f"{type(d['sources']).__name__}")
        d["sources"] = [SourceSpec(**_fields_of(SourceSpec, s, f"sources[{i}]"))
                        for i, s in enumerate(d["sources"])]
        for name in ("levels", "variant"):
            if not isinstance(d.get(name, {}), dict):
                _fail(name, f"must be a dict, got {type(d[name]).__name__}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SceneSpec":
        return cls.from_dict(json.loads(text))

    def with_format(self, channel_format: str) -> "SceneSpec":
        """The same scene (same geometry, clip and seed) in another channel format."""
        return replace(self, channel_format=channel_format)

    def source_positions_m(self) -> np.ndarray:
        """World positions of all sources, shape (n_sources, 3)."""
        return np.stack([s.position_m(self.listener) for s in self.sources])

    def validate(self) -> "SceneSpec":
        """Raise ``ValueError`` naming the first bad field; return self when valid."""
        _check_scalars(self)
        _check_room(self.room)
        _check_geometry(self)
        return self


def _fail(field_name: str, message: str):
    raise ValueError(f"{field_name}: {message}")


def _fields_of(cls, value, where: str) -> dict:
    """``value`` as the keyword arguments of dataclass ``cls``: a dict with every required
    field and no unknown one, else a ValueError naming ``where``."""
    if not isinstance(value, dict):
        _fail(where, f"must be a dict of {cls.__name__} fields, got {type(value).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        _fail(where, f"unknown field(s) {unknown}; {cls.__name__} has {list(known)}")
    missing = [name for name, f in known.items() if name not in value
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        _fail(where, f"missing field(s) {missing}")
    return dict(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)) and bool(np.isfinite(value))


def _check_number(field_name: str, value, low=-np.inf, high=np.inf, unit: str = ""):
    if not _is_number(value) or not low <= value <= high:
        span = f" in [{low:g}, {high:g}]{unit}" if np.isfinite([low, high]).all() else (
            f" >= {low:g}{unit}" if np.isfinite(low) else "")
        _fail(field_name, f"must be a finite number{span}, got {value!r}")


def _check_scalars(spec: SceneSpec):
    if spec.channel_format not in format_names():
        _fail("channel_format", f"must be one of {format_names()}, got {spec.channel_format!r}")
    if spec.split not in SPLITS:
        _fail("split", f"must be one of {SPLITS}, got {spec.split!r}")
    if not (isinstance(spec.sample_rate, (int, np.integer)) and not isinstance(
            spec.sample_rate, bool) and MIN_SAMPLE_RATE <= spec.sample_rate <= MAX_SAMPLE_RATE):
        _fail("sample_rate", f"must be an integer in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] "
              f"Hz, got {spec.sample_rate!r}")
    _check_number("duration_s", spec.duration_s, MIN_DURATION_S, unit=" s")
    if not (isinstance(spec.seed, (int, np.integer)) and not isinstance(spec.seed, bool)
            and spec.seed >= 0):
        _fail("seed", f"must be an integer >= 0, got {spec.seed!r}")
    if not spec.sources:
        _fail("sources", "a scene needs at least one source")
    for i, s in enumerate(spec.sources):
        if not isinstance(s, SourceSpec):
            _fail(f"sources[{i}]", f"must be a SourceSpec, got {type(s).__name__}")
        _check_number(f"sources[{i}].azimuth_deg", s.azimuth_deg)
        _check_number(f"sources[{i}].elevation_deg", s.elevation_deg, -90, 90)
        if not _is_number(s.distance_m) or not s.distance_m > 0:
            _fail(f"sources[{i}].distance_m", f"must be a finite number > 0, got "
                  f"{s.distance_m!r}")
        _check_number(f"sources[{i}].gain_db", s.gain_db, MIN_GAIN_DB, MAX_GAIN_DB, " dB")
        for name in ("class_name", "clip_id"):
            if not isinstance(getattr(s, name), str):
                _fail(f"sources[{i}].{name}", f"must be a string, got "
                      f"{getattr(s, name)!r}")


def _check_room(room: RoomSpec):
    if room.shape not in SHAPES:
        _fail("room.shape", f"must be one of {SHAPES}, got {room.shape!r}")
    _check_number("room.height_m", room.height_m)
    _check_number("room.rt60_s", room.rt60_s)
    try:
        corners = room.corners
    except (TypeError, ValueError):
        _fail("room.floor_m", f"must be a list of [x, y] corners in metres, got "
              f"{room.floor_m!r}")
    if corners.ndim == 2 and corners.shape[1] == 2 and not np.isfinite(corners).all():
        _fail("room.floor_m", "corners must be finite numbers")
    if corners.ndim != 2 or corners.shape[1] != 2 or len(corners) < 3:
        _fail("room.floor_m", f"needs at least 3 [x, y] corners, got shape {corners.shape}")
    if polygon_area(corners) <= 0:
        _fail("room.floor_m", "corners must run counter-clockwise and enclose an area")
    if not room.height_m > 0:
        _fail("room.height_m", f"must be > 0, got {room.height_m!r}")
    try:
        room.absorption
    except ValueError as err:
        _fail("room.rt60_s", str(err))


def _inside(room: RoomSpec, point: np.ndarray) -> bool:
    return bool(contains(room.corners, point[None, :2], WALL_CLEARANCE_M)[0]
                and WALL_CLEARANCE_M <= point[2] <= room.height_m - WALL_CLEARANCE_M)


def _check_geometry(spec: SceneSpec):
    try:
        listener = np.asarray(spec.listener.position_m, float)
    except (TypeError, ValueError):
        listener = np.full(1, np.nan)
    _check_number("listener.yaw_deg", spec.listener.yaw_deg)
    if listener.shape != (3,) or not np.isfinite(listener).all() or not _inside(spec.room,
                                                                                listener):
        _fail("listener.position_m", f"{spec.listener.position_m} is not inside the room "
              f"(at least {WALL_CLEARANCE_M} m from every surface)")
    for i, position in enumerate(spec.source_positions_m()):
        if not _inside(spec.room, position):
            _fail(f"sources[{i}]", f"position {np.round(position, 3).tolist()} m is outside "
                  f"the room (at least {WALL_CLEARANCE_M} m from every surface)")
        if segments_blocked(spec.room.corners, listener[None, :2], position[None, :2])[0]:
            _fail(f"sources[{i}]", "the direct path to the listener crosses a wall")
