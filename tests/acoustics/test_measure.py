"""Acoustic measures on responses whose true values are known."""

import numpy as np
import pytest

from sarl_hf.acoustics import measure

FS = 16000


def _decay(rt60_s, seconds=2.0, seed=0):
    t = np.arange(int(seconds * FS)) / FS
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return noise * 10.0 ** (-3.0 * t / rt60_s)


@pytest.mark.parametrize("rt60_s", [0.2, 0.5, 1.2])
def test_rt60_of_exponentially_decaying_noise(rt60_s):
    assert measure.rt60_s(_decay(rt60_s), FS) == pytest.approx(rt60_s, rel=0.05)
    assert measure.rt60_s(_decay(rt60_s), FS, fit_range_db=(-5, -25)) == pytest.approx(
        rt60_s, rel=0.05)


def test_rt60_start_skips_a_dominant_direct_sound():
    response = _decay(0.5)
    response[:80] *= 60.0  # 5 ms of direct sound, ~27 dB over all the reverberation
    t20 = (-5.0, -25.0)
    assert measure.rt60_s(response, FS, t20) < 0.1  # the decay curve falls off a cliff
    assert measure.rt60_s(response, FS, t20, start_s=80 / FS) == pytest.approx(0.5, rel=0.05)


def test_multichannel_response_is_measured_on_summed_energy():
    stacked = np.stack([_decay(0.6, seed=1), 0.5 * _decay(0.6, seed=2)])
    assert measure.rt60_s(stacked, FS) == pytest.approx(0.6, rel=0.03)


def test_too_short_or_silent_responses_raise():
    with pytest.raises(ValueError, match="too short"):
        measure.rt60_s(_decay(1.0, seconds=0.05), FS)
    with pytest.raises(ValueError, match="no energy"):
        measure.rt60_s(np.zeros(1000), FS)


def test_drr_and_c50_of_a_known_response():
    response = np.zeros(FS)
    response[160] = 1.0  # direct sound at 10 ms, energy 1
    response[160 + 400] = 0.5  # a reflection 25 ms later, energy 0.25
    response[160 + 1600] = 0.5  # a late reflection 100 ms later, energy 0.25
    assert measure.drr_db(response, FS, 0.01) == pytest.approx(10 * np.log10(1 / 0.5))
    assert measure.clarity_db(response, FS, 0.01) == pytest.approx(10 * np.log10(1.25 / 0.25))
