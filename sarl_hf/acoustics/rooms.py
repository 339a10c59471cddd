"""Room geometry: extruded floor polygons at a requested volume, and wall absorption.

Every SARL room is a prism: a floor polygon (counter-clockwise, metres) extruded to a
height. The four shapes are built here at a requested floor area, and the uniform wall
absorption that reaches a target RT60 is chosen with Eyring's formula.
"""

from __future__ import annotations

import numpy as np

SPEED_OF_SOUND_M_S = 343.0
SHAPES = ("shoebox", "l_shaped", "t_shaped", "hexagonal")
MAX_ABSORPTION = 0.99
MIN_ABSORPTION = 0.005
_SABINE_CONSTANT = 24.0 * np.log(10.0) / SPEED_OF_SOUND_M_S  # 0.161 s/m


def _unit_polygon(shape: str, rng: np.random.Generator) -> np.ndarray:
    """Floor corners of a shape with random proportions, before scaling.

    Returns
    -------
    corners : ndarray, shape (n, 2)
        Counter-clockwise corners, arbitrary units.
    """
    if shape == "shoebox":
        aspect = rng.uniform(1.0, 1.8)
        return np.array([[0, 0], [aspect, 0], [aspect, 1], [0, 1]], float)
    if shape == "l_shaped":
        w, d = rng.uniform(1.0, 1.5), 1.0
        cut_x, cut_y = rng.uniform(0.4, 0.6) * w, rng.uniform(0.4, 0.6) * d
        return np.array([[0, 0], [w, 0], [w, d - cut_y], [w - cut_x, d - cut_y],
                         [w - cut_x, d], [0, d]], float)
    if shape == "t_shaped":
        bar_w, bar_d = rng.uniform(1.2, 1.6), rng.uniform(0.4, 0.55)
        stem_w, stem_d = rng.uniform(0.4, 0.55) * bar_w, rng.uniform(0.5, 0.8)
        x0, x1 = (bar_w - stem_w) / 2, (bar_w + stem_w) / 2
        top = stem_d + bar_d
        return np.array([[x0, 0], [x1, 0], [x1, stem_d], [bar_w, stem_d], [bar_w, top],
                         [0, top], [0, stem_d], [x0, stem_d]], float)
    if shape == "hexagonal":
        stretch = rng.uniform(1.0, 1.4)
        angles = np.deg2rad(np.arange(6) * 60.0)
        return np.stack([stretch * np.cos(angles), np.sin(angles)], axis=1)
    raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def floor_polygon(shape: str, area_m2: float, rng: np.random.Generator) -> np.ndarray:
    """Floor corners of a room of the given shape and floor area.

    Parameters
    ----------
    shape : str
        One of ``SHAPES``.
    area_m2 : float
        Floor area in square metres.
    rng : numpy.random.Generator
        Draws the shape's proportions.

    Returns
    -------
    corners : ndarray, shape (n, 2)
        Counter-clockwise corners in metres, bounding box starting at (0, 0).
    """
    if area_m2 <= 0:
        raise ValueError(f"area_m2 must be > 0, got {area_m2}")
    corners = _unit_polygon(shape, rng)
    corners *= np.sqrt(area_m2 / polygon_area(corners))
    return corners - corners.min(axis=0)


def polygon_area(corners: np.ndarray) -> float:
    """Signed area (positive when counter-clockwise) of corners (n, 2), in m²."""
    x, y = corners[:, 0], corners[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygon_perimeter(corners: np.ndarray) -> float:
    """Perimeter of corners (n, 2), in metres."""
    return float(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).sum())


def is_convex(corners: np.ndarray) -> bool:
    """Whether the counter-clockwise polygon corners (n, 2) is convex."""
    edges = np.roll(corners, -1, axis=0) - corners
    cross = edges[:, 0] * np.roll(edges[:, 1], -1) - edges[:, 1] * np.roll(edges[:, 0], -1)
    return bool(np.all(cross >= -1e-12))


def surface_area(corners: np.ndarray, height_m: float) -> float:
    """Total wall, floor and ceiling area of the prism, in m²."""
    return polygon_perimeter(corners) * height_m + 2.0 * abs(polygon_area(corners))


def eyring_absorption(volume_m3: float, surface_m2: float, rt60_s: float) -> float:
    """Uniform energy absorption coefficient that gives ``rt60_s`` by Eyring's formula.

    Raises
    ------
    ValueError
        When the room cannot reach ``rt60_s``: the coefficient would leave
        [MIN_ABSORPTION, MAX_ABSORPTION] (a near-anechoic or a near-lossless room).
    """
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be > 0, got {rt60_s}")
    alpha = 1.0 - np.exp(-_SABINE_CONSTANT * volume_m3 / (surface_m2 * rt60_s))
    if not MIN_ABSORPTION <= alpha <= MAX_ABSORPTION:
        raise ValueError(
            f"rt60_s={rt60_s:g} s cannot be reached in this room "
            f"(volume {volume_m3:.1f} m³, surface {surface_m2:.1f} m²): Eyring's formula "
            f"needs a wall absorption of {alpha:.4f}, outside "
            f"[{MIN_ABSORPTION}, {MAX_ABSORPTION}]")
    return float(alpha)


def edge_distances(corners: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """Distance from each point to each wall segment.

    Parameters
    ----------
    corners : ndarray, shape (n, 2)
    points_xy : ndarray, shape (m, 2)

    Returns
    -------
    distances_m : ndarray, shape (m, n)
    """
    a = corners[None, :, :]
    ab = np.roll(corners, -1, axis=0)[None] - a
    ap = points_xy[:, None, :] - a
    t = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    return np.linalg.norm(ap - t[..., None] * ab, axis=-1)


def contains(corners: np.ndarray, points_xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
    """Which points lie inside the polygon, at least ``margin_m`` from every wall.

    Parameters
    ----------
    corners : ndarray, shape (n, 2)
    points_xy : ndarray, shape (m, 2)
    margin_m : float

    Returns
    -------
    inside : ndarray of bool, shape (m,)
    """
    points_xy = np.atleast_2d(points_xy)
    x, y = points_xy[:, 0:1], points_xy[:, 1:2]
    x0, y0 = corners[:, 0][None], corners[:, 1][None]
    x1, y1 = np.roll(corners[:, 0], -1)[None], np.roll(corners[:, 1], -1)[None]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    inside = (crosses & (x < x_at)).sum(axis=1) % 2 == 1
    if margin_m > 0:
        inside &= edge_distances(corners, points_xy).min(axis=1) >= margin_m
    return inside


def segments_blocked(corners: np.ndarray, starts_xy: np.ndarray, ends_xy: np.ndarray,
                     eps: float = 1e-9) -> np.ndarray:
    """Which segments cross a wall strictly between their end points.

    Parameters
    ----------
    corners : ndarray, shape (n, 2)
    starts_xy, ends_xy : ndarray, shape (m, 2)

    Returns
    -------
    blocked : ndarray of bool, shape (m,)
    """
    p, r = starts_xy[:, None, :], (ends_xy - starts_xy)[:, None, :]
    q = corners[None]
    s = (np.roll(corners, -1, axis=0) - corners)[None]
    denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    qp = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / denom
        u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / denom
    hit = (np.abs(denom) > 1e-15) & (t > eps) & (t < 1 - eps) & (u >= -eps) & (u <= 1 + eps)
    return hit.any(axis=1)
