"""Channel formats and the default HRTF (the SOFA reader: test_sofa.py)."""

import numpy as np
import pytest
from conftest import needs_sofa

from sarl_hf.acoustics import hrtf as hrtf_module
from sarl_hf.acoustics.directions import unit_vector
from sarl_hf.acoustics.formats import FORMATS, make_format
from sarl_hf.acoustics.hrtf import HRTFSet
from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S

FS = 16000
EXPECTED_CHANNELS = {"mono": ("mono",), "stereo": ("left", "right"),
                     "binaural": ("left", "right"), "foa": ("W", "Y", "Z", "X"),
                     "mic4": ("m1", "m2", "m3", "m4")}


@pytest.mark.parametrize("name", [f for f in FORMATS if f != "binaural"])
def test_channel_names_and_diffuse_covariance_are_consistent(name):
    fmt = make_format(name)
    assert fmt.channel_names == EXPECTED_CHANNELS[name]
    freqs = np.fft.rfftfreq(512, 1 / FS)
    cov = fmt.diffuse_covariance(freqs, FS)
    assert cov.shape == (len(freqs), fmt.num_channels, fmt.num_channels)
    np.testing.assert_allclose(cov, np.conj(np.swapaxes(cov, 1, 2)), atol=1e-12)
    assert np.linalg.eigvalsh(cov).min() > -1e-9  # positive semi-definite
    mixing = fmt.diffuse_mixing(FS, 512)
    np.testing.assert_allclose(mixing @ np.conj(np.swapaxes(mixing, 1, 2)), cov, atol=1e-5)


def test_spaced_omni_coherence_is_sinc_of_spacing():
    fmt = make_format("stereo")
    spacing = np.linalg.norm(fmt.capsules_m[0] - fmt.capsules_m[1])
    assert spacing == pytest.approx(0.2)
    freqs = np.array([0.0, 500.0, SPEED_OF_SOUND_M_S / (2 * spacing)])
    coherence = fmt.diffuse_covariance(freqs, FS)[:, 0, 1].real
    np.testing.assert_allclose(coherence, [1.0, np.sinc(2 * 500 * spacing / 343), 0.0],
                               atol=1e-12)


def test_mic4_is_a_regular_tetrahedron_on_the_left_right_convention():
    capsules = make_format("mic4").capsules_m
    np.testing.assert_allclose(np.linalg.norm(capsules, axis=1), 0.042)
    np.testing.assert_allclose(capsules.mean(axis=0), 0.0, atol=1e-12)
    pairs = [np.linalg.norm(capsules[i] - capsules[j]) for i in range(4) for j in range(i)]
    np.testing.assert_allclose(pairs, pairs[0])
    np.testing.assert_allclose(capsules[0], 0.042 * unit_vector(45.0, 35.26439), atol=1e-6)


def test_stereo_left_capsule_is_on_the_left():
    capsules = make_format("stereo").capsules_m
    assert capsules[0, 1] > 0 > capsules[1, 1]  # +y is the listener's left


def test_foa_diffuse_field_has_sn3d_energy_ratios():
    cov = make_format("foa").diffuse_covariance(np.array([100.0, 4000.0]), FS)
    np.testing.assert_allclose(cov[0], np.diag([1, 1 / 3, 1 / 3, 1 / 3]))


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="channel_format must be one of"):
        make_format("5.1")


@needs_sofa
def test_kemar_left_ear_is_louder_for_a_source_on_the_left():
    hrtf = HRTFSet.from_sofa()
    hrirs = hrtf.hrirs_at(FS)
    left = hrtf.nearest(unit_vector(np.array([90.0]), np.array([0.0])))[0]
    right = hrtf.nearest(unit_vector(np.array([-90.0]), np.array([0.0])))[0]
    energy = (hrirs ** 2).sum(axis=-1)
    assert energy[left, 0] > 4 * energy[left, 1]
    assert energy[right, 1] > 4 * energy[right, 0]
    np.testing.assert_allclose(np.linalg.norm(hrtf.directions, axis=1), 1.0)


@needs_sofa
def test_binaural_hrirs_are_diffuse_field_energy_normalised():
    hrtf = HRTFSet.from_sofa()
    for rate in (16000, 48000):
        index, weight = hrtf.diffuse_weights()
        energy = (hrtf.hrirs_at(rate)[index] ** 2).sum(axis=-1).mean(axis=1)
        assert np.dot(weight, energy) == pytest.approx(1.0, rel=1e-9)
    cov = make_format("binaural").diffuse_covariance(np.fft.rfftfreq(1024, 1 / FS), FS)
    assert np.all(cov[:, 0, 0].real > 0)
    assert abs(cov[1, 0, 1]) / np.sqrt(cov[1, 0, 0].real * cov[1, 1, 1].real) > 0.9  # low f


def test_no_default_sofa_file_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(hrtf_module, "DEFAULT_SOFA_PATHS", ())
    monkeypatch.setenv("SARL_SOFA", str(tmp_path / "missing.sofa"))
    with pytest.raises(FileNotFoundError, match="libmysofa1"):
        hrtf_module.default_sofa_path()


@pytest.fixture
def wide_pair():
    """A registered format the package does not have: omni capsules 1 m apart."""
    from sarl_hf.acoustics.formats import CHANNEL_FORMATS, CapsuleArray, register_format

    register_format("wide", lambda **_: CapsuleArray("wide", [[0, 0.5, 0], [0, -0.5, 0]],
                                                     ("left", "right")))
    yield
    CHANNEL_FORMATS.unregister("wide")


def test_a_registered_format_is_accepted_by_every_stage(wide_pair):
    from conftest import make_scene

    from sarl_hf.cli import _formats
    from sarl_hf.corpus.plan import CorpusPlan
    from sarl_hf.rendering import Renderer
    from sarl_hf.scene import design

    assert design(3, channel_format="wide")[0].validate().channel_format == "wide"
    assert CorpusPlan(scenes=5, formats=("mono", "wide")).configs()[:2] == ["mono", "wide"]
    assert _formats("wide,mono") == ["wide", "mono"]
    spec = make_scene(channel_format="wide", azimuth_deg=90.0, distance_m=2.0, rt60_s=0.2)
    scene = Renderer().render(spec)
    assert scene.audio.shape[0] == 2 and scene.channel_names == ("left", "right")
    # physics: a source on the left reaches the left capsule 1 m / c earlier
    delay = np.argmax(np.abs(Renderer().responses(spec)[0]), axis=1)
    assert abs((delay[1] - delay[0]) / FS - 1.0 / SPEED_OF_SOUND_M_S) <= 1.5 / FS


def test_an_unknown_format_keeps_its_message():
    from sarl_hf.scene import design

    for call in (lambda: make_format("5.1"), lambda: design(3, channel_format="5.1")):
        with pytest.raises(ValueError, match=r"^channel_format must be one of \('mono', "
                                             r"'stereo', 'binaural', 'foa', 'mic4'\), got '5.1'$"):
            call()
