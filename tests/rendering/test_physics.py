"""Physics of the fast renderer, tested as physics and against pyroomacoustics."""

import numpy as np
import pytest
from conftest import make_scene, needs_sofa
from scipy import signal

from sarl_hf.acoustics import measure
from sarl_hf.acoustics.directions import unit_vector
from sarl_hf.acoustics.formats import make_format
from sarl_hf.acoustics.ism import image_sources
from sarl_hf.acoustics.rooms import SHAPES, SPEED_OF_SOUND_M_S
from sarl_hf.rendering.renderer import Renderer
from sarl_hf.rendering.rir import fast_rir, mixing_time_s, reference_rir
from sarl_hf.scene.balanced import design
from sarl_hf.scene.factors import FactorConfig

FS = 16000


def _direct_index(spec):
    return spec.sources[0].distance_m / SPEED_OF_SOUND_M_S * FS


def _delay_between(a, b, upsample=64):
    """Delay of b relative to a, in samples (cross-correlation, sub-sample by FFT)."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    spectrum = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    xcorr = np.fft.irfft(spectrum, n * upsample)
    lag = int(np.argmax(xcorr))
    lag = lag - n * upsample if lag > n * upsample // 2 else lag
    return lag / upsample


@pytest.mark.parametrize("fmt", ["mono", "foa", "mic4"])
@pytest.mark.parametrize("distance_m", [0.5, 1.0, 2.0, 3.0])
def test_direct_path_arrives_after_distance_over_c(fmt, distance_m):
    spec = make_scene(volume_m3=500.0, rt60_s=0.3, distance_m=distance_m, azimuth_deg=60)
    channels = make_format(fmt)
    response = fast_rir(spec, channels)
    source = distance_m * unit_vector(60.0, 0.0)
    capsules = getattr(channels, "capsules_m", np.zeros((1, 3)))  # foa: the centre
    for c in range(1 if fmt == "foa" else response.shape[0]):  # foa: W is omnidirectional
        path_m = np.linalg.norm(source - capsules[min(c, len(capsules) - 1)])
        expected = path_m / SPEED_OF_SOUND_M_S * FS
        window = np.abs(response[c, :int(expected) + 20])
        assert abs(int(np.argmax(window)) - expected) <= 1.0
        assert not np.any(np.abs(response[c, :int(expected) - 16]) > 1e-9)  # nothing earlier


@pytest.mark.parametrize("fmt", ["stereo", "mic4"])
@pytest.mark.parametrize("azimuth_deg,elevation_deg",
                         [(0, 0), (45, 0), (90, 0), (135, 20), (200, -30), (300, 40)])
def test_inter_channel_delay_matches_geometry(fmt, azimuth_deg, elevation_deg):
    spec = make_scene(volume_m3=200.0, rt60_s=0.3, distance_m=1.0, azimuth_deg=azimuth_deg,
                      elevation_deg=elevation_deg)
    array = make_format(fmt)
    response = fast_rir(spec, array)
    centre = int(_direct_index(spec))
    window = response[:, centre - 24:centre + 24]
    source = spec.sources[0].distance_m * unit_vector(azimuth_deg, elevation_deg)
    path_m = np.linalg.norm(source - array.capsules_m, axis=1)
    for c in range(1, array.num_channels):
        expected = (path_m[c] - path_m[0]) / SPEED_OF_SOUND_M_S * FS
        assert _delay_between(window[0], window[c]) == pytest.approx(expected, abs=0.1)


def test_stereo_left_channel_leads_for_a_source_on_the_left():
    spec = make_scene(azimuth_deg=90.0, distance_m=1.0)
    response = fast_rir(spec, make_format("stereo"))
    centre = int(_direct_index(spec))
    window = response[:, centre - 24:centre + 24]
    assert _delay_between(window[0], window[1]) > 5  # right hears it 0.2 m / c later


@needs_sofa
@pytest.mark.parametrize("azimuth_deg,louder", [(90.0, 0), (60.0, 0), (-90.0, 1), (250.0, 1)])
def test_binaural_source_on_one_side_is_louder_in_that_ear(azimuth_deg, louder):
    spec = make_scene(rt60_s=0.2, distance_m=1.0, azimuth_deg=azimuth_deg % 360,
                      channel_format="binaural", class_name="pink_noise")
    scene = Renderer().render(spec)  # direct sound and (symmetric) reverberation together
    energy_db = 10 * np.log10((scene.audio.astype(float) ** 2).sum(axis=1))
    assert energy_db[louder] - energy_db[1 - louder] > 1.5
    response = fast_rir(spec, make_format("binaural"))
    centre = int(_direct_index(spec))
    direct = (response[:, centre - 8:centre + 40] ** 2).sum(axis=1)
    assert 10 * np.log10(direct[louder] / direct[1 - louder]) > 6.0


@needs_sofa
def test_binaural_front_source_is_balanced():
    spec = make_scene(rt60_s=0.4, distance_m=1.5, azimuth_deg=0.0, channel_format="binaural")
    response = fast_rir(spec, make_format("binaural"))
    centre = int(_direct_index(spec))
    direct = (response[:, centre - 8:centre + 40] ** 2).sum(axis=1)
    assert abs(10 * np.log10(direct[0] / direct[1])) < 2.0


@pytest.mark.parametrize("azimuth_deg,elevation_deg",
                         [(0, 0), (30, 0), (90, 20), (160, -40), (250, 10), (330, 40)])
def test_foa_direct_path_encodes_direction(azimuth_deg, elevation_deg):
    spec = make_scene(distance_m=1.0, azimuth_deg=azimuth_deg, elevation_deg=elevation_deg)
    response = fast_rir(spec, make_format("foa"))
    centre = int(_direct_index(spec))
    w, y, z, x = response[:, centre - 12:centre + 12]
    ratios = [np.dot(ch, w) / np.dot(w, w) for ch in (x, y, z)]
    azimuth = np.degrees(np.arctan2(ratios[1], ratios[0])) % 360
    elevation = np.degrees(np.arcsin(np.clip(ratios[2], -1, 1)))
    assert min(abs(azimuth - azimuth_deg), 360 - abs(azimuth - azimuth_deg)) < 1.0
    assert elevation == pytest.approx(elevation_deg, abs=1.0)
    assert np.linalg.norm(ratios) == pytest.approx(1.0, abs=0.02)  # SN3D: |(X,Y,Z)| = W


def test_rt60_within_10_percent_on_every_room_cell():
    config = FactorConfig()
    errors = []
    for s, shape in enumerate(SHAPES):
        for volume in config.volume_levels_m3:
            for rt60 in config.rt60_levels_s:
                spec = make_scene(shape=shape, volume_m3=volume, rt60_s=rt60, distance_m=1.0,
                                  room_seed=s)
                scene_start = _direct_index(spec) / FS + 0.0025
                measured = measure.rt60_s(fast_rir(spec, make_format("mono")), FS,
                                          start_s=scene_start)
                errors.append(abs(measured / rt60 - 1))
    assert max(errors) < 0.10, f"worst RT60 error {max(errors):.3f}"


def test_rt60_labels_of_designed_scenes_within_10_percent():
    renderer = Renderer()
    for spec in design(60, split="train", seed=3, duration_s=0.25):
        labels = renderer.render(spec).labels
        assert labels["rt60_s"] == pytest.approx(labels["rt60_target_s"], rel=0.10)


@pytest.mark.parametrize("volume_m3,rt60_s", [(30.0, 0.45), (80.0, 0.7), (200.0, 0.45)])
def test_early_part_matches_full_image_source_model(volume_m3, rt60_s):
    """Until the first fourth-order reflection arrives, the fast response (exact image
    sources + a tail weighted by the chance of a longer path) matches the full model."""
    spec = make_scene(volume_m3=volume_m3, rt60_s=rt60_s, distance_m=1.5, azimuth_deg=120)
    array = make_format("mic4")
    fast, ref = fast_rir(spec, array), reference_rir(spec, array)
    listener = np.asarray(spec.listener.position_m)
    images = image_sources(spec.room.corners, spec.room.height_m,
                           spec.source_positions_m()[0], listener, 4)
    fourth_m = np.linalg.norm(images.positions_m[images.orders == 4] - listener, axis=1).min()
    start = int(_direct_index(spec)) - 16
    stop = int(fourth_m / SPEED_OF_SOUND_M_S * FS) - 16
    assert stop - start > 0.005 * FS
    error = ((fast[:, start:stop] - ref[:, start:stop]) ** 2).sum()
    error_db = 10 * np.log10(error / (ref[:, start:stop] ** 2).sum())
    assert error_db < -20.0


@pytest.mark.parametrize("shape", ["l_shaped", "t_shaped", "hexagonal"])
def test_early_part_matches_pyroomacoustics_in_polygon_rooms(shape):
    spec = make_scene(shape=shape, volume_m3=150.0, rt60_s=0.3, distance_m=2.0, room_seed=4)
    mono = make_format("mono")
    fast, ref = fast_rir(spec, mono), reference_rir(spec, mono, max_order=3)
    direct = _direct_index(spec)
    start, stop = int(direct) - 16, int(direct + 0.004 * FS)  # direct + first 4 ms
    error = ((fast[0, start:stop] - ref[0, start:stop]) ** 2).sum()
    assert 10 * np.log10(error / (ref[0, start:stop] ** 2).sum()) < -20.0


@pytest.mark.parametrize("volume_m3,rt60_s", [(30.0, 0.2), (80.0, 0.45), (500.0, 1.2)])
def test_late_energy_matches_full_image_source_model(volume_m3, rt60_s):
    """The tail's level (4πc/V per second, Eyring decay) meets the image-source energy
    after the mixing time. Both are high-passed at 50 Hz: image sources with positive
    reflection gains pile up a DC offset that is not sound (pyroomacoustics removes it
    with its own 10 Hz high-pass). The statistical tail sits 1-2 dB under the image
    model, whose spread of reflection counts decays a little slower than Eyring's mean."""
    spec = make_scene(volume_m3=volume_m3, rt60_s=rt60_s, distance_m=1.0)
    mono = make_format("mono")
    sos = signal.butter(4, 50.0, "highpass", fs=FS, output="sos")
    fast = signal.sosfiltfilt(sos, fast_rir(spec, mono)[0])
    ref = signal.sosfiltfilt(sos, reference_rir(spec, mono)[0])
    start = int((mixing_time_s(spec, 3, _direct_index(spec) / FS) + 0.01) * FS)
    stop = start + int(0.1 * FS)
    ratio_db = 10 * np.log10((fast[start:stop] ** 2).sum() / (ref[start:stop] ** 2).sum())
    assert -2.5 < ratio_db < 1.0


def _tail(fmt, seeds=4):
    """Late tails of a few scenes, their decay undone so every part weighs the same,
    concatenated: (channels, samples)."""
    parts = []
    for seed in range(seeds):
        spec = make_scene(volume_m3=500.0, rt60_s=1.2, distance_m=1.0, seed=seed)
        tail = fast_rir(spec, make_format(fmt))[:, int(0.1 * FS):int(0.9 * FS)]
        t = np.arange(tail.shape[1]) / FS
        parts.append(tail * 10.0 ** (3.0 * t / spec.room.rt60_s))
    return np.concatenate(parts, axis=1)


def _coherence(a, b):
    freqs, cross = signal.csd(a, b, fs=FS, nperseg=256)
    _, paa = signal.welch(a, fs=FS, nperseg=256)
    _, pbb = signal.welch(b, fs=FS, nperseg=256)
    return freqs, cross.real / np.sqrt(paa * pbb)


def test_stereo_tail_has_diffuse_field_sinc_coherence():
    tail = _tail("stereo")
    freqs, coherence = _coherence(tail[0], tail[1])
    spacing = np.linalg.norm(np.diff(make_format("stereo").capsules_m, axis=0))
    expected = np.sinc(2 * freqs * spacing / SPEED_OF_SOUND_M_S)
    assert np.mean(np.abs(coherence - expected)) < 0.08
    assert coherence[freqs < 200].mean() > 0.85


def test_foa_tail_channels_are_uncorrelated_with_sn3d_energy_ratios():
    w, y, z, x = _tail("foa")
    for ch in (x, y, z):
        assert np.var(ch) / np.var(w) == pytest.approx(1 / 3, abs=0.06)
        assert abs(np.corrcoef(ch, w)[0, 1]) < 0.1
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.1


@needs_sofa
def test_binaural_tail_interaural_coherence_falls_with_frequency():
    left, right = _tail("binaural")
    freqs, coherence = _coherence(left, right)
    assert coherence[(freqs > 60) & (freqs < 300)].mean() > 0.7
    assert np.abs(coherence[freqs > 2000]).mean() < 0.3
    assert np.var(left) / np.var(right) == pytest.approx(1.0, rel=0.3)
