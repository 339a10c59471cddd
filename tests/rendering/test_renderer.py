"""Rendering scenes: shapes, determinism, labels, superposition, bad input."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import make_scene, needs_sofa

from sarl_hf.acoustics.formats import FORMATS
from sarl_hf.rendering.renderer import Renderer, direction_of
from sarl_hf.scene.balanced import design
from sarl_hf.scene.spec import SourceSpec

CHANNELS = {"mono": 1, "stereo": 2, "binaural": 2, "foa": 4, "mic4": 4}


@pytest.fixture(scope="module")
def renderer():
    return Renderer()


@pytest.fixture(scope="module")
def specs():
    return design(6, split="validation", seed=11, duration_s=0.5)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "binaural"] +
                         [pytest.param("binaural", marks=needs_sofa)])
def test_every_format_renders_channels_first_float32(renderer, specs, fmt):
    scene = renderer.render(specs[0].with_format(fmt))
    assert scene.audio.shape == (CHANNELS[fmt], 8000)
    assert scene.audio.dtype == np.float32 and np.isfinite(scene.audio).all()
    assert np.abs(scene.audio).max() > 1e-3
    assert len(scene.channel_names) == CHANNELS[fmt]


def test_same_seed_same_bytes_other_seed_other_bytes(specs):
    spec = specs[1].with_format("foa")
    first, again = Renderer().render(spec), Renderer().render(spec)
    assert first.audio.tobytes() == again.audio.tobytes()
    assert first.labels == again.labels
    other = Renderer().render(replace(spec, seed=spec.seed + 1))
    assert other.audio.tobytes() != first.audio.tobytes()


def test_labels_are_the_same_in_every_format(renderer, specs):
    labels = [renderer.render(specs[2].with_format(f)).labels
              for f in ("mono", "stereo", "foa", "mic4")]
    assert all(lab == labels[0] for lab in labels[1:])


def test_labels_carry_levels_and_exact_geometry(renderer, specs):
    for spec in specs:
        labels = renderer.render(spec).labels
        source = spec.sources[0]
        assert labels["azimuth_deg"] == pytest.approx(source.azimuth_deg, abs=1e-6)
        assert labels["elevation_deg"] == pytest.approx(source.elevation_deg, abs=1e-6)
        assert labels["distance_m"] == pytest.approx(source.distance_m, abs=1e-6)
        assert labels["volume_m3"] == pytest.approx(spec.room.volume_m3)
        assert labels["rt60_s"] == pytest.approx(spec.room.rt60_s, rel=0.1)
        assert {labels[f] for f in ("azimuth", "class", "rt60", "shape")} <= set(range(12))
        assert labels["class_name"] == source.class_name
        assert labels["shape_name"] == spec.room.shape
        assert labels["c50_db"] > labels["drr_db"] - 1  # early energy includes the direct


def test_closer_source_has_higher_drr(renderer):
    near = renderer.render(make_scene(distance_m=0.5, rt60_s=0.7)).labels
    far = renderer.render(make_scene(distance_m=3.0, rt60_s=0.7)).labels
    assert near["drr_db"] > far["drr_db"] + 6  # 1/r: 15.6 dB more direct energy


def test_two_sources_superpose(renderer, specs):
    spec = specs[3]
    second = SourceSpec(azimuth_deg=200.0, elevation_deg=0.0, distance_m=0.5,
                        class_name="clicks", clip_id="procedural/clicks/validation/0001")
    both = replace(spec, sources=[spec.sources[0], second])
    alone = [renderer.render(replace(spec, sources=[s])).audio for s in both.sources]
    mixed = renderer.render(both)
    # the second source's tail seed differs when it is not first: compare early samples
    n = int(0.005 * spec.sample_rate)
    np.testing.assert_allclose(mixed.audio[:, :n], (alone[0] + alone[1])[:, :n], atol=1e-6)
    assert len(mixed.labels["sources"]) == 2
    assert mixed.labels["sources"][1]["azimuth_deg"] == pytest.approx(200.0)


def test_gain_db_scales_the_source(renderer, specs):
    spec = specs[4]
    louder = replace(spec, sources=[replace(spec.sources[0], gain_db=6.0)])
    ratio = np.abs(renderer.render(louder).audio).max() / np.abs(
        renderer.render(spec).audio).max()
    assert ratio == pytest.approx(10 ** (6 / 20), rel=1e-5)


def test_reference_mode_agrees_on_the_direct_sound():
    spec = make_scene(volume_m3=60.0, rt60_s=0.3, distance_m=1.0)
    fast = Renderer().responses(spec)[0][0]
    reference = Renderer(mode="reference").responses(spec)[0][0]
    assert np.argmax(np.abs(fast)) == np.argmax(np.abs(reference))
    assert fast.max() == pytest.approx(reference.max(), rel=0.05)


def test_direction_of_recovers_the_spec_direction(specs):
    for spec in specs:
        azimuth, elevation, distance = direction_of(spec)
        assert azimuth == pytest.approx(spec.sources[0].azimuth_deg, abs=1e-6)
        assert distance == pytest.approx(spec.sources[0].distance_m)


def test_bad_input_is_a_clear_error(renderer, specs):
    with pytest.raises(ValueError, match=r"sources\[0\].distance_m"):
        renderer.render(replace(specs[0], sources=[replace(specs[0].sources[0],
                                                           distance_m=-1.0)]))
    with pytest.raises(ValueError, match="mode must be one of"):
        Renderer(mode="exact")
    with pytest.raises(ValueError, match="clip"):
        renderer.render(replace(specs[0], sources=[replace(specs[0].sources[0],
                                                           clip_id="procedural/nope/x/1")]))
