"""Exact image sources of an extruded-polygon room, vectorised.

The walls of a prism room are vertical, so reflections off walls and off the floor and
ceiling commute: the 3-D image set is the product of the 2-D image set of the floor
polygon (with visibility checks, needed for L- and T-shaped rooms) and the 1-D image set
between floor and ceiling. A 3-D path is valid exactly when its floor projection is, so
visibility is decided in 2-D. ``tests/test_ism.py`` checks the result against
pyroomacoustics' own image-source model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rooms import is_convex, segments_blocked


@dataclass
class ImageSources:
    """Image sources of one source seen from one listener.

    Attributes
    ----------
    positions_m : ndarray, shape (n, 3)
        Image positions, world frame, metres. Row 0 is the source itself.
    orders : ndarray of int, shape (n,)
        Number of reflections.
    """

    positions_m: np.ndarray
    orders: np.ndarray

    def gains(self, absorption: float) -> np.ndarray:
        """Pressure reflection gains (n,) for a uniform energy absorption coefficient."""
        return np.sqrt(1.0 - absorption) ** self.orders


def _walls(corners: np.ndarray):
    starts = corners
    ends = np.roll(corners, -1, axis=0)
    tangent = ends - starts
    normals = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)  # inward for CCW
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return starts, ends, normals


def _candidates_2d(corners, source_xy, max_order):
    """All 2-D images up to ``max_order`` that pass the front-side test, per order."""
    starts, _, normals = _walls(corners)
    n_walls = len(corners)
    levels = [(source_xy[None, :], np.zeros((1, 0), int))]
    for _ in range(max_order):
        pos, seq = levels[-1]
        side = ((pos[:, None, :] - starts[None]) * normals[None]).sum(-1)  # (m, walls)
        ok = side > 1e-12
        if seq.shape[1]:
            ok[np.arange(len(pos)), seq[:, -1]] = False
        parent, wall = np.nonzero(ok)
        new_pos = pos[parent] - 2 * side[parent, wall][:, None] * normals[wall]
        levels.append((new_pos, np.concatenate([seq[parent], wall[:, None]], axis=1)))
        if not len(new_pos):
            break
    return levels, n_walls


def _valid_2d(corners, source_xy, listener_xy, seq, check_blocking):
    """Trace each image path back from the listener; keep those that hit their walls."""
    starts, ends, normals = _walls(corners)
    m, order = seq.shape
    point = np.broadcast_to(listener_xy, (m, 2)).copy()
    valid = np.ones(m, bool)
    # images of each prefix of the wall sequence, rebuilt from the source
    chain = [np.broadcast_to(source_xy, (m, 2))]
    for k in range(order):
        w = seq[:, k]
        prev = chain[-1]
        d = ((prev - starts[w]) * normals[w]).sum(-1)
        chain.append(prev - 2 * d[:, None] * normals[w])
    for k in range(order - 1, -1, -1):
        w, target = seq[:, k], chain[k + 1]
        direction = target - point
        denom = (direction * normals[w]).sum(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((starts[w] - point) * normals[w]).sum(-1) / denom
        hit = point + t[:, None] * direction
        tangent = ends[w] - starts[w]
        s = ((hit - starts[w]) * tangent).sum(-1) / (tangent * tangent).sum(-1)
        valid &= (t > 1e-9) & (t <= 1 + 1e-9) & (s >= 0) & (s <= 1)
        if check_blocking:
            valid &= ~segments_blocked(corners, point, hit)
        point = np.where(valid[:, None], hit, point)
    if check_blocking:
        valid &= ~segments_blocked(corners, point, chain[0])
    return valid


def _images_1d(z_m: float, height_m: float, max_order: int):
    """Floor/ceiling images: positions (k,) and reflection orders (k,)."""
    n = np.arange(-max_order, max_order + 1)
    z = np.concatenate([2 * n * height_m + z_m, 2 * n * height_m - z_m])
    orders = np.concatenate([np.abs(2 * n), np.abs(2 * n - 1)])
    keep = orders <= max_order
    return z[keep], orders[keep]


def image_sources(corners: np.ndarray, height_m: float, source_m: np.ndarray,
                  listener_m: np.ndarray, max_order: int) -> ImageSources:
    """Visible image sources up to ``max_order`` reflections in a prism room.

    Parameters
    ----------
    corners : ndarray, shape (n, 2)
        Counter-clockwise floor corners, metres.
    height_m : float
        Floor at z = 0, ceiling at z = height_m.
    source_m, listener_m : ndarray, shape (3,)
        Positions in metres, inside the room.
    max_order : int
        Largest total number of reflections (walls, floor and ceiling).

    Returns
    -------
    ImageSources
        The direct path first, then images in order of generation.
    """
    source_m, listener_m = np.asarray(source_m, float), np.asarray(listener_m, float)
    check_blocking = not is_convex(corners)
    levels, _ = _candidates_2d(corners, source_m[:2], max_order)
    xy, orders_xy = [source_m[None, :2]], [np.zeros(1, int)]
    for order, (pos, seq) in enumerate(levels[1:], start=1):
        valid = _valid_2d(corners, source_m[:2], listener_m[:2], seq, check_blocking)
        xy.append(pos[valid])
        orders_xy.append(np.full(int(valid.sum()), order))
    xy, orders_xy = np.concatenate(xy), np.concatenate(orders_xy)
    z, orders_z = _images_1d(source_m[2], height_m, max_order)
    total = orders_xy[:, None] + orders_z[None, :]
    i, j = np.nonzero(total <= max_order)
    # put the direct path (order 0 in both) first
    rank = np.lexsort((j, i, total[i, j]))
    i, j = i[rank], j[rank]
    positions = np.column_stack([xy[i], z[j]])
    return ImageSources(positions_m=positions, orders=total[i, j])
