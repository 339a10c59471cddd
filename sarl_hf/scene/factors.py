"""The seven SARL factors, their levels, and balanced level sequences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..acoustics.rooms import SHAPES
from ..checks import check_integer, check_number

SOURCE_FACTORS = ("azimuth", "elevation", "distance", "class")
ROOM_FACTORS = ("rt60", "volume", "shape")
FACTORS = SOURCE_FACTORS + ROOM_FACTORS


#: The levels of each numeric factor: (lowest, highest, whether it must exceed the lowest).
LEVEL_RANGES = {"elevation_levels_deg": (-90.0, 90.0, False),
                "distance_levels_m": (0.0, None, True), "rt60_levels_s": (0.0, None, True),
                "volume_levels_m3": (0.0, None, True)}


def _check_levels(name: str, levels, low, high, above: bool) -> None:
    """Levels: a non-empty sequence of distinct finite numbers within their range."""
    if not isinstance(levels, tuple) or not levels:
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got {levels!r}")
    for value in levels:
        check_number(name, value, low, high, above_minimum=above)
    if len(set(levels)) < len(levels):
        raise ValueError(f"{name} must not repeat a level, got {levels!r}")


def _check_range(name: str, span) -> None:
    if not isinstance(span, tuple) or len(span) != 2:
        raise ValueError(f"{name} must be (low, high) in metres, got {span!r}")
    low = check_number(name, span[0], 0, above_minimum=True)
    if not check_number(name, span[1], 0, above_minimum=True) >= low:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {span!r}")


@dataclass
class FactorConfig:
    """Levels of every factor and the geometric ranges scenes are drawn from.

    Attributes
    ----------
    azimuth_sectors : int
        Sectors of 360°/n centred on 0° (front), counter-clockwise; the exact azimuth is
        uniform inside its sector.
    elevation_levels_deg, distance_levels_m, rt60_levels_s, volume_levels_m3 : tuple
        Nominal levels.
    elevation_jitter_deg, distance_jitter_m : float
        Half-width of the uniform jitter of the exact value around its level.
    volume_jitter : float
        Relative half-width of the jitter of the exact volume.
    shapes : tuple of str
        Room shapes (see ``acoustics.rooms.SHAPES``).
    height_range_m, listener_height_range_m : (float, float)
        Ranges the room height and the listener's ear height are drawn from; both adapt
        to the scene (a high source needs a tall room).
    wall_margin_m : float
        Smallest distance of the listener and the sources to any surface.
    placement_tries : int
        Rooms tried before a scene is declared impossible.
    """

    azimuth_sectors: int = 8
    elevation_levels_deg: tuple = (-40.0, -20.0, 0.0, 20.0, 40.0)
    distance_levels_m: tuple = (0.5, 1.0, 2.0, 3.0)
    rt60_levels_s: tuple = (0.2, 0.45, 0.7, 0.95, 1.2)
    volume_levels_m3: tuple = (30.0, 80.0, 200.0, 500.0)
    shapes: tuple = SHAPES
    elevation_jitter_deg: float = 0.0
    distance_jitter_m: float = 0.0
    volume_jitter: float = 0.1
    height_range_m: tuple = (2.5, 5.0)
    listener_height_range_m: tuple = (1.0, 2.5)
    wall_margin_m: float = 0.3
    placement_tries: int = 200

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                setattr(self, f.name, tuple(value))
        self.azimuth_sectors = check_integer("azimuth_sectors", self.azimuth_sectors, 2)
        self.placement_tries = check_integer("placement_tries", self.placement_tries, 1)
        if not isinstance(self.shapes, tuple) or not self.shapes:
            raise ValueError(f"shapes must be a non-empty sequence of {SHAPES}, got "
                             f"{self.shapes!r}")
        unknown = set(self.shapes) - set(SHAPES)
        if unknown:
            raise ValueError(f"shapes: unknown {sorted(unknown)}; known {SHAPES}")
        for name, (low, high, above) in LEVEL_RANGES.items():
            _check_levels(name, getattr(self, name), low, high, above)
        for name in ("elevation_jitter_deg", "distance_jitter_m", "volume_jitter",
                     "wall_margin_m"):
            check_number(name, getattr(self, name), 0)
        for name in ("height_range_m", "listener_height_range_m"):
            _check_range(name, getattr(self, name))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FactorConfig":
        """The config a :meth:`to_dict` dict describes; an unknown field is a ValueError."""
        if not isinstance(d, dict):
            raise ValueError(f"factors must be a dict of FactorConfig fields, got "
                             f"{type(d).__name__}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"factors: unknown field(s) {unknown}")
        return cls(**d)

    @property
    def sector_width_deg(self) -> float:
        return 360.0 / self.azimuth_sectors

    def levels(self, factor: str, classes: tuple = ()) -> list:
        """Nominal level values of a factor (class names for ``class``)."""
        table = {
            "azimuth": [k * self.sector_width_deg for k in range(self.azimuth_sectors)],
            "elevation": list(self.elevation_levels_deg),
            "distance": list(self.distance_levels_m),
            "class": list(classes),
            "rt60": list(self.rt60_levels_s),
            "volume": list(self.volume_levels_m3),
            "shape": list(self.shapes),
        }
        if factor not in table:
            raise ValueError(f"factor must be one of {FACTORS}, got {factor!r}")
        return table[factor]

    def level_counts(self, classes: tuple = ()) -> dict:
        """Number of levels of every factor, e.g. ``{"azimuth": 8, ...}``."""
        return {f: len(self.levels(f, classes)) for f in FACTORS}

    def level_names(self, factor: str, classes: tuple = ()) -> list[str]:
        """Human-readable names of the levels, e.g. ``'45deg'``, ``'0.5m'``."""
        unit = {"azimuth": "deg", "elevation": "deg", "distance": "m", "rt60": "s",
                "volume": "m3"}.get(factor, "")
        return [f"{v:g}{unit}" if unit else str(v) for v in self.levels(factor, classes)]


def balanced_levels(n: int, num_levels: int, rng: np.random.Generator) -> np.ndarray:
    """Level indices in which every level occurs n/L times (±1), in every prefix too.

    Parameters
    ----------
    n : int
        Length.
    num_levels : int
    rng : numpy.random.Generator

    Returns
    -------
    levels : ndarray of int, shape (n,)
    """
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    reps = -(-n // num_levels)
    if reps == 0:
        return np.zeros(0, int)
    # one random order of the levels per cycle: every prefix is balanced too
    cycles = np.stack([rng.permutation(num_levels) for _ in range(reps)])
    return cycles.ravel()[:n]


def nominal_levels(factor: str, values, factors: FactorConfig | None = None) -> np.ndarray:
    """Nominal level index of each exact value under a factor configuration.

    Parameters
    ----------
    factor : str
        A factor with exact values: ``azimuth``, ``elevation``, ``distance``, ``rt60`` or
        ``volume``.
    values : array-like of float (n,)
        Exact values in the factor's unit (degrees, metres, seconds, m³).
    factors : sarl_hf.scene.factors.FactorConfig, optional
        Levels (default: the SARL defaults).

    Returns
    -------
    ndarray of int (n,)
        Azimuth: the sector ``floor(az / width + 0.5) mod sectors``; volume: the nearest
        level in log10; the others: the nearest level.

    Examples
    --------
    >>> nominal_levels("azimuth", [0.0, 22.4, 22.5, 350.0, -45.0, 720.0])
    array([0, 0, 1, 0, 7, 0])
    >>> nominal_levels("volume", [33.0, 49.0, 480.0])
    array([0, 1, 3])
    >>> nominal_levels("rt60", [0.19, 0.6, 2.0])
    array([0, 2, 4])
    """
    config = factors or FactorConfig()
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if factor == "azimuth":
        sectors = np.floor(values / config.sector_width_deg + 0.5).astype(np.int64)
        return sectors % config.azimuth_sectors
    levels = np.asarray(config.levels(factor), dtype=np.float64)
    if factor == "volume":
        values, levels = np.log10(values), np.log10(levels)
    return np.abs(values[:, None] - levels[None, :]).argmin(1).astype(np.int64)
