"""Small signal-processing helpers shared by the renderers."""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

FRAC_DELAY_HALF_WIDTH = 16  # taps each side of a fractional-delay impulse


def fractional_delay_kernels(delays_samples: np.ndarray, num_taps: int,
                             half_width: int = FRAC_DELAY_HALF_WIDTH):
    """Band-limited impulses (Hann-windowed sinc) at fractional delays.

    Parameters
    ----------
    delays_samples : ndarray, shape (n,)
        Arrival times in samples (fractional).
    num_taps : int
        Length of the response the impulses go into.

    Returns
    -------
    taps : ndarray of int, shape (n, 2 * half_width)
        Sample index of each kernel value.
    kernel : ndarray, shape (n, 2 * half_width)
    keep : ndarray of bool, shape (n, 2 * half_width)
        Which indices fall inside [0, num_taps).
    """
    base = np.floor(delays_samples).astype(int)
    taps = base[:, None] + np.arange(-half_width + 1, half_width + 1)[None, :]
    x = taps - delays_samples[:, None]
    kernel = np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / half_width))
    return taps, kernel, (taps >= 0) & (taps < num_taps)


def fractional_shift_spectra(spectra: np.ndarray, shifts_samples: np.ndarray,
                             n_fft: int) -> np.ndarray:
    """Delay filters given as rfft spectra by fractional amounts.

    Parameters
    ----------
    spectra : ndarray, shape (n, channels, n_fft // 2 + 1), complex
    shifts_samples : ndarray, shape (n,)
        Delays in [0, 1) samples.

    Returns
    -------
    filters : ndarray, shape (n, channels, n_fft)
    """
    bins = np.arange(spectra.shape[-1])
    phase = np.exp(-2j * np.pi * shifts_samples[:, None] * bins[None, :] / n_fft)
    return np.fft.irfft(spectra * phase[:, None, :], n=n_fft, axis=-1)


def convolve_sum(signals, responses, num_samples: int) -> np.ndarray:
    """Sum of mono signals each convolved with its multichannel response, truncated.

    Parameters
    ----------
    signals : sequence of ndarray, each shape (samples,)
    responses : sequence of ndarray, each shape (channels, taps)
    num_samples : int
        Length of the output (the tail beyond it is cut).

    Returns
    -------
    out : ndarray, shape (channels, num_samples), float32
    """
    n_fft = sp_fft.next_fast_len(num_samples + max(r.shape[-1] for r in responses), real=True)
    total = 0
    for x, r in zip(signals, responses):
        x = np.asarray(x, np.float32)[:num_samples]
        total = total + sp_fft.rfft(x, n_fft)[None] * sp_fft.rfft(
            np.asarray(r, np.float32), n_fft, axis=-1)
    return sp_fft.irfft(total, n_fft, axis=-1)[:, :num_samples].astype(np.float32)


def psd_sqrt(covariance: np.ndarray) -> np.ndarray:
    """Hermitian square roots M with M Mᴴ = C of a stack of PSD matrices (F, C, C)."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]
