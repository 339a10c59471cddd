"""The seven SARL probe tasks: what is decoded, from which columns, with which metrics.

>>> TASKS["azimuth"].metrics
('accuracy', 'macro_f1', 'angular_error_deg')
>>> TASKS["volume"].regression_unit
'log10_m3'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Task:
    """One probe task.

    Attributes
    ----------
    name : str
    level : str
        ``source`` or ``room``.
    label : str
        Column of the nominal level (ClassLabel ints): the classification target.
    value : str or None
        Column of the exact value, the regression target (None: classification only).
    target : str or None
        How the value is regressed: ``circular`` (degrees → (sin, cos), angular error),
        ``linear`` or ``log10``.
    regression_unit : str or None
        Unit of the regression error, used in the metric name (``mae_<unit>``).
    """

    name: str
    level: str
    label: str
    value: str | None = None
    target: str | None = None
    regression_unit: str | None = None

    @property
    def regression_metric(self) -> str | None:
        if self.value is None:
            return None
        return "angular_error_deg" if self.target == "circular" else f"mae_{self.regression_unit}"

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names, primary first: accuracy, macro-F1, then the regression error."""
        extra = (self.regression_metric,) if self.value else ()
        return ("accuracy", "macro_f1") + extra

    def regression_targets(self, values: np.ndarray) -> np.ndarray:
        """Targets (n, t) the regressor fits: (sin, cos) for circular, else one column."""
        values = np.asarray(values, dtype=np.float64)
        if self.target == "circular":
            radians = np.deg2rad(values)
            return np.stack([np.sin(radians), np.cos(radians)], axis=1)
        if self.target == "log10":
            if (values <= 0).any():
                raise ValueError(f"{self.value}: log10 target needs positive values")
            return np.log10(values)[:, None]
        return values[:, None]

    def regression_errors(self, predicted: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Absolute errors (n,) of predicted targets (n, t) against the exact values (n,),
        in the task's unit (degrees on the circle for azimuth)."""
        values = np.asarray(values, dtype=np.float64)
        if self.target == "circular":
            angle = np.rad2deg(np.arctan2(predicted[:, 0], predicted[:, 1]))
            return np.abs((angle - values + 180.0) % 360.0 - 180.0)
        truth = np.log10(values) if self.target == "log10" else values
        return np.abs(predicted[:, 0] - truth)


TASKS = {
    "azimuth": Task("azimuth", "source", "azimuth", "azimuth_deg", "circular", "deg"),
    "elevation": Task("elevation", "source", "elevation", "elevation_deg", "linear", "deg"),
    "distance": Task("distance", "source", "distance", "distance_m", "linear", "m"),
    "class": Task("class", "source", "class"),
    "rt60": Task("rt60", "room", "rt60", "rt60_s", "linear", "s"),
    "volume": Task("volume", "room", "volume", "volume_m3", "log10", "log10_m3"),
    "shape": Task("shape", "room", "shape"),
}
TASK_NAMES = tuple(TASKS)
SOURCE_TASKS = tuple(n for n, t in TASKS.items() if t.level == "source")
ROOM_TASKS = tuple(n for n, t in TASKS.items() if t.level == "room")


def get_task(name: str) -> Task:
    """The task called ``name``; ValueError listing the tasks otherwise."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {TASK_NAMES}, got {name!r}")
    return TASKS[name]
