"""The vectorised prism image-source model equals pyroomacoustics' image-source model."""

import numpy as np
import pyroomacoustics as pra
import pytest
from scipy.spatial import cKDTree

from sarl_hf.acoustics.ism import image_sources
from sarl_hf.acoustics.rooms import SHAPES, contains, floor_polygon


def _pra_images(corners, height, source, listener, order, absorption):
    room = pra.Room.from_corners(corners.T, fs=16000, max_order=order,
                                 materials=pra.Material(absorption))
    room.extrude(height, materials=pra.Material(absorption))
    room.add_source(source)
    room.add_microphone(listener)
    room.image_source_model()
    visible = room.visibility[0][0].astype(bool)
    return room.sources[0].images.T[visible], room.sources[0].damping[0][visible]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("trial", range(3))
def test_image_sources_match_pyroomacoustics(shape, trial):
    rng = np.random.default_rng([trial, SHAPES.index(shape)])
    corners, height = floor_polygon(shape, rng.uniform(12, 60), rng), rng.uniform(2.5, 4)
    while True:
        points = rng.uniform(corners.min(0), corners.max(0), size=(2, 2))
        if contains(corners, points, 0.3).all():
            break
    source = np.r_[points[0], rng.uniform(0.5, height - 0.5)]
    listener = np.r_[points[1], rng.uniform(0.5, height - 0.5)]
    ours = image_sources(corners, height, source, listener, max_order=4)
    theirs, damping = _pra_images(corners, height, source, listener, 4, absorption=0.3)
    assert len(ours.positions_m) == len(theirs)
    distance, match = cKDTree(theirs).query(ours.positions_m)
    assert distance.max() < 1e-3  # pyroomacoustics keeps float32 positions
    assert len(set(match)) == len(match)  # one to one
    np.testing.assert_allclose(ours.gains(0.3), damping[match], rtol=1e-5)


def test_direct_path_comes_first_and_orders_are_sorted():
    corners = floor_polygon("l_shaped", 30.0, np.random.default_rng(0))
    centre = corners[[0, 1]].mean(0) + [0, 0.5]
    images = image_sources(corners, 3.0, [*centre, 1.2], [*(centre + [0.5, 0.2]), 1.6], 3)
    np.testing.assert_allclose(images.positions_m[0], [*centre, 1.2])
    assert images.orders[0] == 0 and np.all(np.diff(images.orders) >= 0)
    assert images.orders.max() == 3
