"""sarl_hf.results.explore: scenes from exact factor values, one-factor sweeps, the room plot and
results files (what the sarl_explorer Space calls)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from sarl_hf.acoustics.formats import STEREO_SPACING_M
from sarl_hf.acoustics.rooms import SHAPES, SPEED_OF_SOUND_M_S
from sarl_hf.encoders import load_encoder
from sarl_hf.rendering.renderer import Renderer, direction_of
from sarl_hf.results import explore
from sarl_hf.scene.factors import FactorConfig, nominal_levels

VALUES = {"azimuth": 60.0, "elevation": 0.0, "distance": 1.0, "class": "pink_noise",
          "rt60": 0.4, "volume": 80.0, "shape": "shoebox"}


@pytest.fixture(scope="module")
def renderer():
    return Renderer("procedural")


@pytest.fixture(scope="module")
def spatial():
    return load_encoder("sarl-spatial", channel_format="stereo")


def test_factor_ranges_and_value_checks():
    ranges = explore.factor_ranges()
    assert ranges == {"azimuth": (0.0, 360.0), "elevation": (-40.0, 40.0),
                      "distance": (0.5, 3.0), "rt60": (0.2, 1.2), "volume": (30.0, 500.0)}
    classes = Renderer("procedural").bank.classes
    assert explore.check_values({**VALUES, "azimuth": 370.0}, classes)["azimuth"] == 10.0
    for bad, match in (({"elevation": 60.0}, r"elevation must lie in \[-40, 40\] deg"),
                       ({"distance": "far"}, "distance must be a number"),
                       ({"class": "trumpet"}, "class must be one of"),
                       ({"shape": "dome"}, "shape must be one of"),
                       ({"rt60": float("nan")}, "rt60 must lie")):
        with pytest.raises(ValueError, match=match):
            explore.check_values({**VALUES, **bad}, classes)
    with pytest.raises(ValueError, match="missing"):
        explore.check_values({"azimuth": 0.0}, classes)


@pytest.mark.parametrize("shape", SHAPES)
def test_scene_has_exactly_the_factor_values(shape):
    """The direct path, the room volume, RT60 target and shape are the values asked for,
    in every shape, including a far, high source in the smallest room."""
    for values in ({**VALUES, "shape": shape},
                   {**VALUES, "shape": shape, "azimuth": 225.0, "elevation": 40.0,
                    "distance": 3.0, "volume": 30.0, "rt60": 1.2, "class": "bell"}):
        spec = explore.scene_spec(values, "foa", duration_s=1.5, seed=4)
        azimuth, elevation, distance = direction_of(spec)
        assert azimuth == pytest.approx(values["azimuth"], abs=1e-4)
        assert elevation == pytest.approx(values["elevation"], abs=1e-4)
        assert distance == pytest.approx(values["distance"], abs=1e-5)
        assert spec.room.volume_m3 == pytest.approx(values["volume"], rel=1e-4)
        assert (spec.room.shape, spec.room.rt60_s) == (shape, values["rt60"])
        assert spec.sources[0].class_name == values["class"]
        assert spec.sources[0].clip_id in Renderer("procedural").bank.clip_ids("test",
                                                                             values["class"])
        assert spec.levels["volume"] == nominal_levels("volume", [values["volume"]])[0]
        assert (spec.channel_format, spec.duration_s, spec.split) == ("foa", 1.5, "test")
    with pytest.raises(ValueError, match="duration"):
        explore.scene_spec(VALUES, duration_s=explore.MAX_DURATION_S + 0.5)
    with pytest.raises(ValueError, match="channel format"):
        explore.scene_spec(VALUES, channel_format="5.1")


def test_same_seed_same_bytes(renderer, tmp_path):
    scenes = [renderer.render(explore.scene_spec(VALUES, "binaural", 1.0, seed=seed))
              for seed in (7, 7, 8)]
    assert scenes[0].audio.tobytes() == scenes[1].audio.tobytes()
    assert scenes[0].audio.tobytes() != scenes[2].audio.tobytes()
    for k in (0, 1):
        assert explore.write_wav(scenes[k], tmp_path / f"{k}.wav") == 1.0
    assert (tmp_path / "0.wav").read_bytes() == (tmp_path / "1.wav").read_bytes()
    audio, rate = sf.read(tmp_path / "0.wav", dtype="float32", always_2d=True)
    assert rate == 16000 and audio.shape == (16000, 2)
    np.testing.assert_array_equal(audio.T, scenes[0].audio)
    loud = scenes[0]
    loud.audio = loud.audio / np.abs(loud.audio).max() * 2.0
    assert explore.write_wav(loud, tmp_path / "loud.wav") == pytest.approx(0.495)
    assert np.abs(sf.read(tmp_path / "loud.wav")[0]).max() == pytest.approx(0.99, abs=1e-6)


def test_room_figure_puts_the_source_at_its_azimuth_and_distance():
    """The plotted source lies at the listener + distance·cos(elevation) along yaw + azimuth
    (worked out here from the factor values, not from the spec's own geometry)."""
    values = {**VALUES, "azimuth": 135.0, "elevation": 20.0, "distance": 2.0,
              "shape": "l_shaped", "volume": 200.0}
    spec = explore.scene_spec(values, seed=2)
    fig = explore.room_figure(spec)
    lines = {line.get_gid(): line.get_xydata() for line in fig.axes[0].get_lines()}
    listener = np.asarray(spec.listener.position_m[:2])
    np.testing.assert_allclose(lines["listener"][0], listener)
    angle = np.deg2rad(spec.listener.yaw_deg + 135.0)
    reach = 2.0 * np.cos(np.deg2rad(20.0))
    np.testing.assert_allclose(lines["source0"][0],
                               listener + reach * np.array([np.cos(angle), np.sin(angle)]),
                               atol=1e-6)
    np.testing.assert_allclose(lines["walls"][:-1], spec.room.corners)
    assert "l_shaped: 200 m³" in fig.axes[0].get_title()


def test_sweep_values():
    values, anchor = explore.sweep_values("azimuth", 350.0, 4)
    assert (values, anchor) == ([350.0, 80.0, 170.0, 260.0], 0)
    values, anchor = explore.sweep_values("elevation", 7.0, 5)
    assert values == [-40.0, -20.0, 7.0, 20.0, 40.0] and anchor == 2
    values, anchor = explore.sweep_values("volume", 30.0, 3)
    assert values == pytest.approx([30.0, np.sqrt(30 * 500), 500.0]) and anchor == 0
    assert explore.sweep_values("shape", "t_shaped", 8) == (list(SHAPES), 2)
    assert explore.sweep_values("class", "b", 8, classes=("a", "b")) == (["a", "b"], 1)
    for n in (2, 13):
        with pytest.raises(ValueError, match="3 to 12 points"):
            explore.sweep_values("distance", 1.0, n)
    with pytest.raises(ValueError, match="at most|2 to 12 levels"):
        explore.sweep_values("class", "c0", 8, classes=tuple(f"c{k}" for k in range(13)))


def test_azimuth_sweep_moves_the_spatial_embedding_as_the_geometry_says(renderer, spatial):
    """sarl-spatial on a spaced stereo pair: every other azimuth moves the embedding, and
    the inter-channel delay it measures moves by spacing · Δsin(azimuth) / c."""
    result = explore.sweep(spatial, renderer, VALUES, "azimuth", 8, "stereo", 1.0, seed=0)
    assert result.values[0] == 60.0 and result.anchor_index == 0
    assert result.distances[0] == 0.0 and (result.distances[1:] > 0).all()
    assert result.layer == "all" and len(result.specs) == 8
    for spec, value in zip(result.specs, result.values):
        assert direction_of(spec)[0] == pytest.approx(value, abs=1e-4)
    delay = explore.sweep(spatial, renderer, VALUES, "azimuth", 8, "stereo", 1.0, seed=0,
                          layer="delay_ms", metric="euclidean")
    expected_ms = 1000 * STEREO_SPACING_M / SPEED_OF_SOUND_M_S * np.abs(
        np.sin(np.deg2rad(delay.values)) - np.sin(np.deg2rad(60.0)))
    np.testing.assert_allclose(delay.distances, expected_ms, atol=0.03)  # 1 sample at 32 kHz
    summary = json.loads(json.dumps(delay.to_dict()))
    assert summary["unit"] == "deg" and len(summary["distances"]) == 8


def test_rt60_sweep_changes_only_the_room_and_grows_away_from_the_anchor(renderer, spatial):
    result = explore.sweep(spatial, renderer, VALUES, "rt60", 6, "stereo", 1.0, seed=0)
    assert result.values == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.2])
    assert result.anchor_index == 1 and result.placement == "anchor"
    assert [s.room.rt60_s for s in result.specs] == pytest.approx(result.values)
    assert all(s.listener == result.specs[0].listener for s in result.specs)
    d = result.distances
    assert d[1] == 0.0 and d[0] > 0 and (np.diff(d[1:]) > 0).all()
    fig = explore.sweep_figure(result)
    curve = {line.get_gid(): line.get_xydata() for line in fig.axes[0].get_lines()}["curve"]
    np.testing.assert_allclose(curve, np.c_[result.values, d])


def test_class_and_shape_sweeps(renderer, spatial):
    by_class = explore.sweep(spatial, renderer, VALUES, "class", 8, "stereo", 0.5, seed=1)
    assert by_class.values == list(renderer.bank.classes)
    assert [s.sources[0].class_name for s in by_class.specs] == by_class.values
    assert by_class.distances[by_class.values.index("pink_noise")] == 0.0
    by_shape = explore.sweep(spatial, renderer, VALUES, "shape", 8, "stereo", 0.5, seed=1)
    assert [s.room.shape for s in by_shape.specs] == list(SHAPES)
    assert [s.room.volume_m3 for s in by_shape.specs] == pytest.approx([80.0] * 4, rel=1e-4)
    assert explore.sweep_figure(by_shape).axes[0].get_xticklabels()[1].get_text() == "l_shaped"
    with pytest.raises(ValueError, match="layer must be one of"):
        explore.sweep(spatial, renderer, VALUES, "rt60", 3, "stereo", 0.5, layer="nope")


def test_encoder_names_and_an_offline_hub():
    assert explore.check_encoder_name(" crepe-tiny ") == "crepe-tiny"
    assert explore.check_encoder_name("facebook/wav2vec2-base") == "facebook/wav2vec2-base"
    for bad in ("hear:os", "../secrets", "/etc", "a/b/c", "", None):
        with pytest.raises(ValueError, match="encoder must be one of"):
            explore.check_encoder_name(bad)
    with pytest.raises(ValueError, match="Hugging Face Hub is unreachable"):
        explore.open_encoder("sarl-test/no-such-model", "mono")
    assert explore.open_encoder("sarl-logmel", "mono").name == "sarl-logmel"


def test_factor_config_levels_feed_nominal_levels():
    config = FactorConfig(distance_levels_m=(1.0, 4.0))
    assert nominal_levels("distance", 2.4, config).tolist() == [0]
    assert nominal_levels("distance", [2.6], config).tolist() == [1]
