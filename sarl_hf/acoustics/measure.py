"""Room-acoustic measures of impulse responses (ISO 3382 style).

All functions take a response of shape (taps,) or (channels, taps); a multichannel
response is measured on the energy summed over its channels.
"""

from __future__ import annotations

import numpy as np


def _energy(response: np.ndarray) -> np.ndarray:
    response = np.asarray(response, float)
    return response**2 if response.ndim == 1 else (response**2).sum(axis=0)


def energy_decay_curve_db(response: np.ndarray) -> np.ndarray:
    """Schroeder backward-integrated energy decay curve, 0 dB at the start.

    Parameters
    ----------
    response : ndarray, shape (taps,) or (channels, taps)

    Returns
    -------
    edc_db : ndarray, shape (taps,)
    """
    tail_energy = np.cumsum(_energy(response)[::-1])[::-1]
    if tail_energy[0] <= 0:
        raise ValueError("response has no energy")
    return 10 * np.log10(np.maximum(tail_energy / tail_energy[0], 1e-30))


def rt60_s(response: np.ndarray, sample_rate: int,
           fit_range_db: tuple[float, float] = (-5.0, -35.0), start_s: float = 0.0) -> float:
    """Reverberation time from a line fitted to the decay curve (T30 by default).

    Pass ``start_s`` just after the direct sound to measure the decay of the reverberant
    field alone: close to a source the direct sound is so much louder than the
    reverberation that a decay curve including it falls off a cliff, not at the room's
    rate (the reason ISO 3382 keeps its receivers away from the source).

    Parameters
    ----------
    response : ndarray, shape (taps,) or (channels, taps)
    sample_rate : int
        Hz.
    fit_range_db : (float, float)
        Decay-curve levels between which the line is fitted; the slope is extrapolated
        to a 60 dB decay.
    start_s : float
        Sound before this time (seconds) is left out.

    Returns
    -------
    rt60 : float
        Seconds.
    """
    response = np.asarray(response, float)
    edc = energy_decay_curve_db(response[..., int(round(start_s * sample_rate)):])
    upper, lower = fit_range_db
    start = int(np.argmax(edc <= upper))
    below = np.nonzero(edc <= lower)[0]
    # near its end every decay curve plunges (nothing left to integrate): not a decay
    if below.size == 0 or below[0] - start < 3 or below[0] > 0.9 * len(edc):
        raise ValueError(f"the decay curve does not fall to {lower} dB: response too short")
    t = np.arange(start, below[0]) / sample_rate
    slope = np.polyfit(t, edc[start:below[0]], 1)[0]
    return float(-60.0 / slope)


def _split_energy(response, sample_rate, start_s, split_s):
    energy = _energy(response)
    start = max(int(round(start_s * sample_rate)), 0)
    split = min(max(int(round(split_s * sample_rate)), start), len(energy))
    return energy[start:split].sum(), energy[split:].sum()


def drr_db(response: np.ndarray, sample_rate: int, direct_delay_s: float,
           window_s: float = 0.0025) -> float:
    """Direct-to-reverberant ratio in dB.

    Energy within ``window_s`` of the direct arrival against all energy after it.
    """
    direct, rest = _split_energy(response, sample_rate, direct_delay_s - window_s,
                                 direct_delay_s + window_s)
    return float(10 * np.log10(direct / max(rest, 1e-30)))


def clarity_db(response: np.ndarray, sample_rate: int, direct_delay_s: float,
               early_s: float = 0.05) -> float:
    """Clarity C50 (``early_s`` = 0.05) in dB: early against late energy, from the direct
    arrival (less 2.5 ms for the band-limited onset)."""
    early, late = _split_energy(response, sample_rate, direct_delay_s - 0.0025,
                                direct_delay_s + early_s)
    return float(10 * np.log10(early / max(late, 1e-30)))
