"""Directions in the listener's frame: x front, y left, z up; azimuth 0° is the front,
+90° the left (counter-clockwise seen from above), elevation +90° is up.

>>> unit_vector(90.0, 0.0).round(6).tolist()
[0.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np


def unit_vector(azimuth_deg, elevation_deg) -> np.ndarray:
    """Unit vectors (..., 3) in the listener frame for azimuth/elevation in degrees."""
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def fibonacci_sphere(num_points: int) -> np.ndarray:
    """Nearly uniform unit vectors on the sphere, shape (num_points, 3)."""
    i = np.arange(num_points) + 0.5
    z = 1.0 - 2.0 * i / num_points
    azimuth = np.pi * (1.0 + 5.0**0.5) * i
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(azimuth), r * np.sin(azimuth), z], axis=1)
