"""Synthesis recipes for the procedural source bank.

Every recipe has the signature ``recipe(rng, n_samples, sample_rate) -> x``
where ``x`` is a ``(n_samples,)`` float64 mono signal at ``sample_rate`` Hz
with arbitrary level (the bank normalises it).  Recipes draw their per-clip
parameters (pitch, rate, band, timing...) from ``rng`` in Hz and seconds
before any sample-level noise, so a clip's parameters do not depend on the
sample rate (8 kHz to 48 kHz); only its noise samples and the components
above the band edge do.  All recipes keep their energy well inside
50 Hz - 7 kHz (and below 0.45 of the sample rate), so they survive
rendering at 16 kHz.
"""

from __future__ import annotations

import types
from typing import Callable, Mapping

import numpy as np
from scipy import signal

__all__ = ["RECIPES", "synthesise", "max_frequency_hz"]

Recipe = Callable[[np.random.Generator, int, int], np.ndarray]

#: Highest frequency any recipe puts energy at, in Hz, before the Nyquist cap.
UPPER_BAND_EDGE_HZ = 7000.0
#: Crest factor (peak / RMS) above which a clip is soft-limited, so that peaks
#: stay below full scale after normalisation to -26 dBFS RMS (factor ~20).
MAX_CREST_FACTOR = 10.0


def max_frequency_hz(sample_rate: int) -> float:
    """Highest usable frequency in Hz: 7 kHz or 0.45 * ``sample_rate``."""
    return min(UPPER_BAND_EDGE_HZ, 0.45 * sample_rate)


def _time_s(n_samples: int, sample_rate: int) -> np.ndarray:
    """Sample times, shape (n_samples,), in seconds."""
    return np.arange(n_samples) / sample_rate


def _harmonic_tone(freq_hz: np.ndarray, amplitudes: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sum of harmonics of a time-varying fundamental.

    Parameters
    ----------
    freq_hz : np.ndarray
        (samples,) instantaneous fundamental frequency in Hz.
    amplitudes : np.ndarray
        (harmonics,) amplitude of harmonic k+1 (linear).
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        (samples,) tone; harmonics above :func:`max_frequency_hz` are muted
        sample by sample.
    """
    phase = 2.0 * np.pi * np.cumsum(freq_hz) / sample_rate
    limit = max_frequency_hz(sample_rate)
    out = np.zeros_like(phase)
    for k, amp in enumerate(amplitudes, start=1):
        out += amp * np.sin(k * phase) * (k * freq_hz < limit)
    return out


def _bandpass(x: np.ndarray, low_hz: float, high_hz: float, sample_rate: int) -> np.ndarray:
    """4th-order Butterworth band-pass of ``x`` (samples,), clamped to the usable band."""
    high_hz = min(high_hz, max_frequency_hz(sample_rate))
    low_hz = min(max(low_hz, 30.0), 0.8 * high_hz)
    sos = signal.butter(4, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x)


def _event_onsets_s(rng: np.random.Generator, duration_s: float, period_s: float,
                    jitter: float) -> np.ndarray:
    """Roughly periodic onset times (events,) in seconds, the first in the first quarter."""
    onsets = [rng.uniform(0.0, min(period_s, 0.25 * duration_s))]
    while onsets[-1] < duration_s:
        onsets.append(onsets[-1] + period_s * rng.uniform(1.0 - jitter, 1.0 + jitter))
    return np.asarray(onsets[:-1])


def _place_events(onsets_s: np.ndarray, events: list[np.ndarray], n_samples: int,
                  sample_rate: int) -> np.ndarray:
    """Add each event (event_samples,) at its onset (s) into a (n_samples,) buffer."""
    out = np.zeros(n_samples)
    for onset_s, event in zip(onsets_s, events):
        start = int(round(onset_s * sample_rate))
        stop = min(n_samples, start + len(event))
        if start < stop:
            out[start:stop] += event[: stop - start]
    return out


def harmonic(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Sustained harmonic tone, f0 100-400 Hz, slight vibrato."""
    f0_hz = rng.uniform(100.0, 400.0)
    vibrato_hz, vibrato_depth = rng.uniform(4.0, 7.0), rng.uniform(0.004, 0.012)
    tilt = rng.uniform(0.8, 1.6)
    t = _time_s(n_samples, sample_rate)
    freq_hz = f0_hz * (1.0 + vibrato_depth * np.sin(2 * np.pi * vibrato_hz * t))
    return _harmonic_tone(freq_hz, np.arange(1, 25) ** -tilt, sample_rate)


def bell(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Inharmonic decaying partials, struck repeatedly."""
    base_hz = rng.uniform(300.0, 1000.0)
    ratios = np.array([0.5, 1.0, 1.19, 1.56, 2.0, 2.51, 2.66, 3.01, 4.1])
    ratios = ratios * rng.uniform(0.98, 1.02, ratios.size)
    decay_s = rng.uniform(0.3, 1.2) / np.sqrt(ratios)
    onsets_s = _event_onsets_s(rng, n_samples / sample_rate, rng.uniform(0.5, 1.5), 0.2)
    t = _time_s(int(3 * decay_s.max() * sample_rate), sample_rate)
    keep = base_hz * ratios < max_frequency_hz(sample_rate)
    strike = sum(np.exp(-t / d) * np.sin(2 * np.pi * base_hz * r * t)
                 for r, d in zip(ratios[keep], decay_s[keep]))
    gains = rng.uniform(0.6, 1.0, onsets_s.size)
    return _place_events(onsets_s, [g * strike for g in gains], n_samples, sample_rate)


def sweep(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Repeated logarithmic tonal chirp, up or down."""
    low_hz, high_hz = rng.uniform(150.0, 500.0), rng.uniform(2000.0, 5000.0)
    period_s, upward = rng.uniform(0.3, 1.2), rng.random() < 0.5
    high_hz = min(high_hz, 0.9 * max_frequency_hz(sample_rate))
    position = (_time_s(n_samples, sample_rate) / period_s) % 1.0
    position = position if upward else 1.0 - position
    freq_hz = low_hz * (high_hz / low_hz) ** position
    return _harmonic_tone(freq_hz, np.array([1.0, 0.3]), sample_rate)


def noise_burst(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Band-passed noise bursts separated by gaps."""
    centre_hz, octaves = rng.uniform(400.0, 2500.0), rng.uniform(1.0, 2.0)
    burst_s, gap_s = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.4)
    noise = _bandpass(rng.standard_normal(n_samples), centre_hz * 2 ** (-octaves / 2),
                      centre_hz * 2 ** (octaves / 2), sample_rate)
    offset_s = rng.uniform(0, 0.5 * burst_s)
    position_s = (_time_s(n_samples, sample_rate) + offset_s) % (burst_s + gap_s)
    ramp_s = 0.005
    gate = np.clip(np.minimum(position_s, burst_s - position_s) / ramp_s, 0.0, 1.0)
    return noise * gate


def pink_noise(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Steady 1/f^alpha noise (alpha 0.8-1.2), band-limited to 50 Hz - 7 kHz."""
    alpha = rng.uniform(0.8, 1.2)
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs_hz = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    in_band = (freqs_hz >= 50.0) & (freqs_hz <= max_frequency_hz(sample_rate))
    shaping = np.where(in_band, np.maximum(freqs_hz, 1.0) ** (-alpha / 2), 0.0)
    return np.fft.irfft(spectrum * shaping, n_samples)


def clicks(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Periodic train of short, broad resonant clicks (10-30 per second)."""
    rate_hz, resonance_hz = rng.uniform(10.0, 30.0), rng.uniform(600.0, 2000.0)
    decay_s = rng.uniform(0.002, 0.004)
    onsets_s = _event_onsets_s(rng, n_samples / sample_rate, 1.0 / rate_hz, 0.05)
    resonance_hz = min(resonance_hz, 0.8 * max_frequency_hz(sample_rate))
    t = _time_s(int(6 * decay_s * sample_rate), sample_rate)
    click = np.exp(-t / decay_s) * np.sin(2 * np.pi * resonance_hz * t)
    return _place_events(onsets_s, [click] * onsets_s.size, n_samples, sample_rate)


def drum(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Hits of a pitch-dropping sine plus a short noise transient."""
    start_hz, end_hz = rng.uniform(120.0, 250.0), rng.uniform(55.0, 80.0)
    decay_s, noise_level = rng.uniform(0.08, 0.2), rng.uniform(0.3, 0.6)
    onsets_s = _event_onsets_s(rng, n_samples / sample_rate, rng.uniform(0.25, 0.6), 0.1)
    t = _time_s(int(5 * decay_s * sample_rate), sample_rate)
    freq_hz = end_hz + (start_hz - end_hz) * np.exp(-t / 0.03)
    body = np.exp(-t / decay_s) * np.sin(2 * np.pi * np.cumsum(freq_hz) / sample_rate)
    n_noise = min(t.size, int(0.03 * sample_rate))
    hits = []
    for _ in onsets_s:
        transient = _bandpass(rng.standard_normal(n_noise), 1000.0, 5000.0, sample_rate)
        hit = body.copy()
        hit[:n_noise] += noise_level * transient * np.exp(-t[:n_noise] / 0.008)
        hits.append(hit)
    return _place_events(onsets_s, hits, n_samples, sample_rate)


def vowel(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Glottal pulse train through three formant resonators (a, e, i, o, u)."""
    formants_hz = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010],
                            [570, 840, 2410], [300, 870, 2240]], dtype=float)
    formants_hz = formants_hz[rng.integers(len(formants_hz))] * rng.uniform(0.9, 1.1, 3)
    bandwidths_hz = rng.uniform(60.0, 120.0, 3)
    f0_hz, vibrato_hz = rng.uniform(90.0, 250.0), rng.uniform(4.0, 6.0)
    t = _time_s(n_samples, sample_rate)
    freq_hz = f0_hz * (1.0 + 0.01 * np.sin(2 * np.pi * vibrato_hz * t))
    cycles = np.cumsum(freq_hz) / sample_rate
    pulses = np.diff(np.floor(cycles), prepend=0.0)
    source = signal.lfilter([1.0], [1.0, -0.95], signal.lfilter([1.0], [1.0, -0.95], pulses))
    source = np.diff(source, prepend=0.0)
    out = np.zeros(n_samples)
    for formant_hz, bandwidth_hz in zip(formants_hz, bandwidths_hz):
        if formant_hz < max_frequency_hz(sample_rate):
            radius = np.exp(-np.pi * bandwidth_hz / sample_rate)
            theta = 2 * np.pi * formant_hz / sample_rate
            denominator = [1.0, -2 * radius * np.cos(theta), radius ** 2]
            out += signal.lfilter([1.0 - radius], denominator, source)
    return out


def tremolo(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Tone (200-1000 Hz) with deep amplitude modulation at 3-12 Hz."""
    carrier_hz, rate_hz = rng.uniform(200.0, 1000.0), rng.uniform(3.0, 12.0)
    depth, phase = rng.uniform(0.7, 1.0), rng.uniform(0, 2 * np.pi)
    t = _time_s(n_samples, sample_rate)
    envelope = 1.0 - depth * (0.5 - 0.5 * np.cos(2 * np.pi * rate_hz * t + phase))
    carrier = _harmonic_tone(np.full(n_samples, carrier_hz), np.array([1.0, 0.4, 0.2]), sample_rate)
    return envelope * carrier


def siren(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Wide, slow sinusoidal FM tone (centre 500-1200 Hz, 0.2-1 Hz rate)."""
    centre_hz, deviation = rng.uniform(500.0, 1200.0), rng.uniform(0.3, 0.6)
    rate_hz, phase = rng.uniform(0.2, 1.0), rng.uniform(0, 2 * np.pi)
    t = _time_s(n_samples, sample_rate)
    freq_hz = centre_hz * (1.0 + deviation * np.sin(2 * np.pi * rate_hz * t + phase))
    return _harmonic_tone(freq_hz, np.array([1.0, 0.5, 0.25]), sample_rate)


def crackle(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Sparse random (Poisson) crackles of high-passed noise."""
    rate_hz, low_hz = rng.uniform(30.0, 150.0), rng.uniform(2500.0, 3500.0)
    duration_s = n_samples / sample_rate
    onsets_s = np.sort(rng.uniform(0.0, duration_s, max(1, rng.poisson(rate_hz * duration_s))))
    n_event = int(0.002 * sample_rate)
    envelope = np.hanning(n_event)
    events = [rng.uniform(0.2, 1.0) * envelope * rng.standard_normal(n_event) for _ in onsets_s]
    impulses = _place_events(onsets_s, events, n_samples, sample_rate)
    return _bandpass(impulses, low_hz, UPPER_BAND_EDGE_HZ, sample_rate)


def hum(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """Mains buzz (50 or 60 Hz harmonics, odd ones stronger) plus low rumble."""
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    tilt, rumble_level = rng.uniform(0.5, 1.0), rng.uniform(0.2, 0.5)
    orders = np.arange(1, int(1500.0 // mains_hz) + 1)
    amplitudes = orders ** -tilt * np.where(orders % 2 == 1, 1.0, 0.4)
    buzz = _harmonic_tone(np.full(n_samples, mains_hz), amplitudes, sample_rate)
    rumble = _bandpass(rng.standard_normal(n_samples), 40.0, 200.0, sample_rate)
    rumble *= rumble_level * np.std(buzz) / max(np.std(rumble), 1e-12)
    return buzz + rumble


#: Recipe per class name (read-only mapping).
RECIPES: Mapping[str, Recipe] = types.MappingProxyType({
    recipe.__name__: recipe
    for recipe in (harmonic, bell, sweep, noise_burst, pink_noise, clicks,
                   drum, vowel, tremolo, siren, crackle, hum)
})


def _limit_crest(x: np.ndarray) -> np.ndarray:
    """Soft-limit (tanh) peaks of ``x`` (samples,) above MAX_CREST_FACTOR * RMS."""
    rms = np.sqrt(np.mean(x ** 2))
    ceiling = MAX_CREST_FACTOR * rms
    if rms <= 0.0 or np.max(np.abs(x)) <= ceiling:
        return x
    return ceiling * np.tanh(x / ceiling)


def synthesise(class_name: str, rng: np.random.Generator, n_samples: int,
               sample_rate: int) -> np.ndarray:
    """Synthesise one clip of ``class_name``.

    Parameters
    ----------
    class_name : str
        A key of :data:`RECIPES`.
    rng : np.random.Generator
        Source of all per-clip parameters and noise.
    n_samples : int
        Output length in samples.
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        (n_samples,) float64 mono signal, arbitrary level, crest factor
        limited to about :data:`MAX_CREST_FACTOR`.
    """
    if class_name not in RECIPES:
        raise ValueError(f"class_name {class_name!r} is not a procedural class; "
                         f"choose one of {sorted(RECIPES)}")
    return _limit_crest(RECIPES[class_name](rng, n_samples, sample_rate))
