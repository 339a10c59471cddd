"""The SOFA reader (``sofar``): Data.Delay, receiver order, refused conventions, and what
they do to rendered binaural scenes. Every file is written here with ``sofar``."""

import numpy as np
import pytest
import sofar

from sarl_hf.acoustics.formats import Binaural
from sarl_hf.acoustics.hrtf import HRTFSet
from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S
from sarl_hf.acoustics.sofa import delayed, read_sofa_hrirs

FS = 16000
TAPS = 48
#: Measured directions (azimuth, elevation in degrees, radius in m).
POSITIONS = [[0.0, 0.0, 1.2], [90.0, 0.0, 1.2], [180.0, 0.0, 1.2], [-90.0, 0.0, 1.2]]


def _ear_irs(rng) -> np.ndarray:
    """(4, 2, TAPS) decaying noise responses, (left, right); the near ear 10x louder."""
    ir = rng.normal(size=(4, 2, TAPS)) * np.exp(-np.arange(TAPS) / 6.0)
    ir[:, :, 0] = 0.0  # onset at sample 1, a clear one
    ir[:, :, 1] = np.where(ir[:, :, 1] < 0, -1.0, 1.0)
    ir[1, 1] *= 0.1  # source at +90 (left): the right ear is shadowed
    ir[3, 0] *= 0.1  # source at -90 (right): the left ear is shadowed
    return ir


def _write(path, ir, delay=((0.0, 0.0),), left_first=True, convention="SimpleFreeFieldHRIR"):
    """A SOFA file of ``ir`` (left, right) with receivers stored in either order."""
    sofa = sofar.Sofa(convention)
    y = [0.09, -0.09] if left_first else [-0.09, 0.09]
    delay = np.asarray(delay, float)
    if not left_first:
        ir, delay = ir[:, ::-1], delay[:, ::-1]
    sofa.Data_IR = ir
    sofa.Data_SamplingRate = FS
    sofa.ReceiverPosition = [[0.0, y[0], 0.0], [0.0, y[1], 0.0]]
    sofa.SourcePosition = POSITIONS
    sofa.Data_Delay = delay
    sofar.write_sofa(str(path), sofa)
    return path


#: A source distance whose travel time is a whole number of samples (no fractional shift).
DISTANCE_M = 100 * SPEED_OF_SOUND_M_S / FS


def _render(path, azimuth_deg: float) -> np.ndarray:
    """(2, taps) response of a binaural format to a source ``DISTANCE_M`` away at
    ``azimuth_deg``."""
    hrtf = HRTFSet.from_sofa(path)
    az = np.deg2rad(azimuth_deg)
    position = DISTANCE_M * np.array([[np.cos(az), np.sin(az), 0.0]])
    return Binaural(hrtf=hrtf).early_response(position, np.ones(1), FS, 400)


def _onset(channel: np.ndarray) -> int:
    return int(np.argmax(np.abs(channel) > 1e-3 * np.abs(channel).max()))


@pytest.fixture
def ir():
    return _ear_irs(np.random.default_rng(0))


def test_a_delay_moves_every_response_by_exactly_its_samples(tmp_path, ir):
    plain = HRTFSet.from_sofa(_write(tmp_path / "plain.sofa", ir))
    late = HRTFSet.from_sofa(_write(tmp_path / "late.sofa", ir, delay=[[5.0, 5.0]]))
    assert late.hrirs.shape == (4, 2, TAPS + 5)
    assert np.array_equal(late.hrirs[..., 5:], plain.hrirs) and not late.hrirs[..., :5].any()
    np.testing.assert_allclose(late.hrirs_at(FS)[..., 5:], plain.hrirs_at(FS), atol=1e-12)


def test_a_delay_shifts_the_rendered_onset_by_exactly_its_samples(tmp_path, ir):
    plain = _render(_write(tmp_path / "plain.sofa", ir), 90.0)
    late = _render(_write(tmp_path / "late.sofa", ir, delay=[[5.0, 5.0]]), 90.0)
    right_late = _render(_write(tmp_path / "right.sofa", ir, delay=[[0.0, 7.0]]), 90.0)
    assert [_onset(c) for c in plain] == [101, 101]  # 100 samples of travel, HRIR onset 1
    assert [_onset(c) - _onset(p) for c, p in zip(late, plain)] == [5, 5]
    assert [_onset(c) - _onset(p) for c, p in zip(right_late, plain)] == [0, 7]
    np.testing.assert_allclose(late[:, 5:], plain[:, :-5], atol=1e-9)


def test_per_measurement_delays_move_each_direction(tmp_path, ir):
    delay = [[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [9.0, 2.0]]
    hrtf = HRTFSet.from_sofa(_write(tmp_path / "each.sofa", ir, delay=delay))
    onsets = [[_onset(hrtf.hrirs[m, ear]) for ear in range(2)] for m in range(4)]
    assert onsets == [[1 + d for d in row] for row in np.asarray(delay, int).tolist()]


def test_receivers_in_the_other_order_still_give_the_left_ear_first(tmp_path, ir):
    usual = _write(tmp_path / "usual.sofa", ir, delay=[[0.0, 3.0]])
    swapped = _write(tmp_path / "swapped.sofa", ir, delay=[[0.0, 3.0]], left_first=False)
    directions, hrirs, rate = read_sofa_hrirs(swapped)
    assert np.array_equal(hrirs, read_sofa_hrirs(usual)[1]) and rate == FS
    np.testing.assert_allclose(directions[1], [0.0, 1.0, 0.0], atol=1e-12)
    for path in (usual, swapped):
        left_source = (_render(path, 90.0) ** 2).sum(axis=-1)
        right_source = (_render(path, -90.0) ** 2).sum(axis=-1)
        assert left_source[0] > 10 * left_source[1]
        assert right_source[1] > 10 * right_source[0]


def test_other_conventions_and_broken_files_are_refused(tmp_path, ir):
    general = _write(tmp_path / "general.sofa", ir, convention="GeneralFIR")
    with pytest.raises(ValueError, match="convention 'GeneralFIR' cannot be rendered here; "
                                         "supported: SimpleFreeFieldHRIR"):
        HRTFSet.from_sofa(general)
    (tmp_path / "bad.sofa").write_bytes(b"not netCDF")
    with pytest.raises(ValueError, match="not a readable SOFA file"):
        HRTFSet.from_sofa(tmp_path / "bad.sofa")
    with pytest.raises(ValueError, match="Data.Delay must hold delays of 0 to"):
        HRTFSet.from_sofa(_write(tmp_path / "early.sofa", ir, delay=[[-2.0, 0.0]]))


def test_receivers_that_cannot_be_told_apart_are_refused(tmp_path, ir):
    path = _write(tmp_path / "one_place.sofa", ir)
    sofa = sofar.read_sofa(str(path), verbose=False)
    sofa.ReceiverPosition = [[[0.0], [0.0], [0.0]], [[0.0], [0.0], [0.0]]]
    sofar.write_sofa(str(path), sofa)
    with pytest.raises(ValueError, match="neither is known to be the left ear"):
        HRTFSet.from_sofa(path)


def test_a_listener_looking_elsewhere_is_refused(tmp_path, ir):
    path = _write(tmp_path / "turned.sofa", ir)
    sofa = sofar.read_sofa(str(path), verbose=False)
    sofa.ListenerView = [[0.0, 1.0, 0.0]]
    sofar.write_sofa(str(path), sofa)
    with pytest.raises(ValueError, match=r"ListenerView must be \[1.0, 0.0, 0.0\]"):
        HRTFSet.from_sofa(path)


def test_a_fractional_delay_is_a_band_limited_shift():
    t = np.arange(64)
    pulse = np.exp(-0.5 * ((t - 20) / 4.0) ** 2)[None, None]  # smooth: nearly band-limited
    out = delayed(pulse, np.array([[2.5]]))
    assert out.shape == (1, 1, 64 + 1 + 2)
    expected = np.exp(-0.5 * ((np.arange(out.shape[-1]) - 22.5) / 4.0) ** 2)
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-6)


def test_cartesian_source_positions_give_the_same_directions(tmp_path, ir):
    spherical = read_sofa_hrirs(_write(tmp_path / "spherical.sofa", ir))[0]
    path = _write(tmp_path / "cartesian.sofa", ir)
    sofa = sofar.read_sofa(str(path), verbose=False)
    sofa.SourcePosition_Type, sofa.SourcePosition_Units = "cartesian", "metre"
    sofa.SourcePosition = 1.2 * spherical
    sofar.write_sofa(str(path), sofa)
    np.testing.assert_allclose(read_sofa_hrirs(path)[0], spherical, atol=1e-12)
    np.testing.assert_allclose(spherical[[0, 1]], [[1, 0, 0], [0, 1, 0]], atol=1e-12)
