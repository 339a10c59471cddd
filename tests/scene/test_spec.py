"""Tests for sarl_hf.scene.spec: SceneSpec, RoomSpec, ListenerSpec, SourceSpec."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from sarl_hf.scene.balanced import design
from sarl_hf.scene.spec import ListenerSpec, RoomSpec, SceneSpec, SourceSpec

CLIP = "procedural/harmonic/train/0000"


def shoebox_scene(**source_kwargs) -> SceneSpec:
    """A hand-made valid scene: 6 x 5 x 3 m shoebox, listener in the middle."""
    room = RoomSpec("shoebox", [[0, 0], [6, 0], [6, 5], [0, 5]], 3.0, 0.5)
    listener = ListenerSpec([3.0, 2.5, 1.5], 0.0)
    source = dict(azimuth_deg=30.0, elevation_deg=0.0, distance_m=1.5, class_name="harmonic",
                  clip_id=CLIP)
    source.update(source_kwargs)
    return SceneSpec(room=room, listener=listener, sources=[SourceSpec(**source)])


def l_shaped_room() -> RoomSpec:
    """6 x 6 m L with the upper-right 3 x 3 m quarter cut away (re-entrant corner at (3, 3))."""
    return RoomSpec("l_shaped", [[0, 0], [6, 0], [6, 3], [3, 3], [3, 6], [0, 6]], 3.0, 0.5)


@pytest.fixture(scope="module")
def designed():
    return design(6, split="validation", seed=11, duration_s=0.5)


# --- serialisation -----------------------------------------------------------------------

def test_dict_round_trip_is_equal(designed):
    for spec in designed:
        d = spec.to_dict()
        snapshot = copy.deepcopy(d)
        back = SceneSpec.from_dict(d)
        assert back == spec
        assert isinstance(back.room, RoomSpec)
        assert isinstance(back.listener, ListenerSpec)
        assert all(isinstance(s, SourceSpec) for s in back.sources)
        assert d == snapshot, "from_dict must not modify its argument"
        assert back.to_dict() == d


def test_json_round_trip_is_equal(designed):
    spec = replace(designed[0], variant={"anchor": "a", "factor": "rt60", "level": 2,
                                         "placement": "anchor"})
    text = spec.to_json()
    assert json.loads(text)["scene_id"] == spec.scene_id
    back = SceneSpec.from_json(text)
    assert back == spec
    assert back.to_json() == text
    # a JSON round trip of every designed spec too
    for s in designed:
        assert SceneSpec.from_json(s.to_json()) == s


def test_with_format_keeps_geometry_and_seed(designed):
    spec = designed[1]
    before = copy.deepcopy(spec.to_dict())
    other = spec.with_format("binaural")
    assert other.channel_format == "binaural"
    assert spec.channel_format == "mono" and spec.to_dict() == before  # original untouched
    assert other.room == spec.room
    assert other.listener == spec.listener
    assert other.sources == spec.sources
    assert other.seed == spec.seed
    assert other.scene_id == spec.scene_id and other.split == spec.split
    assert other.levels == spec.levels
    np.testing.assert_array_equal(other.source_positions_m(), spec.source_positions_m())
    d1, d2 = spec.to_dict(), other.to_dict()
    d1.pop("channel_format"), d2.pop("channel_format")
    assert d1 == d2


# --- room, listener and source geometry --------------------------------------------------

def test_room_volume_surface_and_absorption():
    room = RoomSpec("shoebox", [[0, 0], [4, 0], [4, 5], [0, 5]], 3.0, 0.6)
    assert room.volume_m3 == pytest.approx(60.0)
    assert room.surface_m2 == pytest.approx(2 * (4 + 5) * 3 + 2 * 20)
    alpha = room.absorption
    expected_rt60 = 0.161 * 60 / (-94 * np.log(1 - alpha))  # Eyring
    assert expected_rt60 == pytest.approx(0.6, rel=1e-3)


def test_listener_to_world_and_to_listener_are_inverses():
    rng = np.random.default_rng(0)
    for yaw in (0.0, 37.5, 90.0, 213.0, -45.0):
        listener = ListenerSpec([1.0, -2.0, 1.4], yaw)
        points = rng.normal(size=(20, 3)) * 3
        rel = listener.to_listener(points)
        back = np.asarray(listener.position_m) + listener.to_world(rel)
        np.testing.assert_allclose(back, points, atol=1e-12)
        dirs = rng.normal(size=(20, 3))
        np.testing.assert_allclose(
            listener.to_listener(np.asarray(listener.position_m) + listener.to_world(dirs)),
            dirs, atol=1e-12)
        # a rotation keeps lengths and leaves z alone
        np.testing.assert_allclose(np.linalg.norm(listener.to_world(dirs), axis=1),
                                   np.linalg.norm(dirs, axis=1))
        np.testing.assert_allclose(listener.to_world(dirs)[:, 2], dirs[:, 2])


def test_source_at_90_degrees_is_on_the_left():
    source = SourceSpec(90.0, 0.0, 2.0, "harmonic", CLIP)
    pos = source.position_m(ListenerSpec([1.0, 1.0, 1.5], 0.0))
    np.testing.assert_allclose(pos, [1.0, 3.0, 1.5], atol=1e-12)  # +y
    pos = source.position_m(ListenerSpec([1.0, 1.0, 1.5], 90.0))
    np.testing.assert_allclose(pos, [-1.0, 1.0, 1.5], atol=1e-12)  # -x
    front = SourceSpec(0.0, 0.0, 2.0, "harmonic", CLIP)
    np.testing.assert_allclose(front.position_m(ListenerSpec([0, 0, 1], 90.0)), [0, 2, 1],
                               atol=1e-12)
    up = SourceSpec(123.0, 90.0, 1.0, "harmonic", CLIP)
    np.testing.assert_allclose(up.position_m(ListenerSpec([0, 0, 1], 45.0)), [0, 0, 2],
                               atol=1e-12)


def test_designed_positions_recover_their_direction(designed):
    for spec in designed:
        for source, pos in zip(spec.sources, spec.source_positions_m()):
            v = spec.listener.to_listener(pos[None])[0]
            dist = np.linalg.norm(v)
            assert dist == pytest.approx(source.distance_m, abs=1e-9)
            az = np.degrees(np.arctan2(v[1], v[0])) % 360
            diff = (az - source.azimuth_deg + 180) % 360 - 180
            assert abs(diff) < 1e-6
            assert np.degrees(np.arcsin(v[2] / dist)) == pytest.approx(source.elevation_deg,
                                                                       abs=1e-6)


# --- validate ----------------------------------------------------------------------------

def test_valid_scenes_validate(designed):
    spec = shoebox_scene()
    assert spec.validate() is spec
    for s in designed:
        assert s.validate() is s


def _with_room(spec, **kwargs):
    return replace(spec, room=replace(spec.room, **kwargs))


@pytest.mark.parametrize("make, field", [
    (lambda s: _with_room(s, shape="dome"), r"room\.shape"),
    (lambda s: replace(s, channel_format="5.1"), r"channel_format"),
    (lambda s: replace(s, split="dev"), r"^split"),
    (lambda s: replace(s, sample_rate=4000), r"sample_rate"),
    (lambda s: replace(s, sample_rate=16000.0), r"sample_rate"),
    (lambda s: replace(s, duration_s=0.0), r"duration_s"),
    (lambda s: replace(s, sources=[]), r"^sources"),
    (lambda s: replace(s, sources=[replace(s.sources[0], distance_m=-1.0)]),
     r"sources\[0\]\.distance_m"),
    (lambda s: replace(s, sources=[replace(s.sources[0], distance_m=0.0)]),
     r"sources\[0\]\.distance_m"),
    (lambda s: replace(s, sources=[replace(s.sources[0], elevation_deg=120.0)]),
     r"sources\[0\]\.elevation_deg"),
    (lambda s: replace(s, sources=[replace(s.sources[0], distance_m=10.0)]),
     r"sources\[0\]: .*outside"),
    (lambda s: replace(s, sources=[replace(s.sources[0], elevation_deg=80.0)]),
     r"sources\[0\]: .*outside"),  # through the ceiling
    (lambda s: replace(s, listener=ListenerSpec([7.0, 2.5, 1.5], 0.0)),
     r"listener\.position_m"),
    (lambda s: replace(s, listener=ListenerSpec([3.0, 2.5, 3.5], 0.0)),
     r"listener\.position_m"),
    (lambda s: replace(s, listener=ListenerSpec([3.0, 0.05, 1.5], 0.0)),
     r"listener\.position_m"),  # closer to a wall than the clearance
    (lambda s: _with_room(s, rt60_s=0.001), r"room\.rt60_s"),
    (lambda s: _with_room(s, rt60_s=500.0), r"room\.rt60_s"),
    (lambda s: _with_room(s, floor_m=s.room.floor_m[::-1]), r"room\.floor_m"),
    (lambda s: _with_room(s, floor_m=[[0, 0], [6, 0]]), r"room\.floor_m"),
    (lambda s: _with_room(s, height_m=0.0), r"room\.height_m"),
])
def test_validate_names_the_bad_field(make, field):
    good = shoebox_scene()
    good.validate()
    bad = make(good)
    with pytest.raises(ValueError, match=field):
        bad.validate()


def test_second_source_named_in_errors():
    spec = shoebox_scene()
    far = replace(spec.sources[0], azimuth_deg=180.0, distance_m=4.0, class_name="bell")
    with pytest.raises(ValueError, match=r"sources\[1\]"):
        replace(spec, sources=[spec.sources[0], far]).validate()


def test_l_shaped_room_direct_path_through_the_wall_is_rejected():
    room = l_shaped_room()
    # listener in the lower arm, source in the left arm; the straight line between them
    # passes through (4, 4), inside the cut-away quarter
    listener = ListenerSpec([5.5, 2.5, 1.5], 0.0)
    offset = np.array([2.5, 5.5]) - np.array([5.5, 2.5])
    azimuth = float(np.degrees(np.arctan2(offset[1], offset[0])))
    source = SourceSpec(azimuth, 0.0, float(np.linalg.norm(offset)), "harmonic", CLIP)
    spec = SceneSpec(room=room, listener=listener, sources=[source])
    np.testing.assert_allclose(spec.source_positions_m()[0], [2.5, 5.5, 1.5], atol=1e-9)
    with pytest.raises(ValueError, match=r"sources\[0\].*crosses a wall"):
        spec.validate()
    # both points are inside on their own: a visible source in the same room is fine
    visible = replace(source, azimuth_deg=180.0, distance_m=3.0)  # to (2.5, 2.5)
    replace(spec, sources=[visible]).validate()
    SceneSpec(room=room, listener=ListenerSpec([2.5, 5.5, 1.5], 0.0),
              sources=[replace(source, azimuth_deg=-90.0, distance_m=3.0)]).validate()


def test_validation_order_reports_the_first_bad_field():
    spec = shoebox_scene()
    bad = replace(spec, channel_format="5.1", room=replace(spec.room, shape="dome"))
    with pytest.raises(ValueError, match=r"^channel_format"):
        bad.validate()
