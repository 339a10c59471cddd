"""Levels of dry clips: RMS and ITU-R BS.1770 integrated loudness, normalisation to a
target, and what counts as silent, so that level never leaks a clip's class."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyloudnorm

TARGET_RMS_DBFS = -26.0
#: Integrated loudness (ITU-R BS.1770, LUFS) of the clips of loudness-normalised banks.
TARGET_LOUDNESS_LUFS = -26.0
#: Gating block of BS.1770 in seconds: shorter signals are measured on their repetition.
LOUDNESS_BLOCK_S = 0.4
#: A clip whose peak is below this (linear, full scale 1.0) counts as silent.
SILENT_PEAK = 1e-5
#: A clip whose RMS is below this (dBFS) counts as silent.
SILENT_RMS_DBFS = -80.0


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level of ``x`` (any shape) in dBFS (-inf for all zeros or empty)."""
    rms = math.sqrt(float(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20.0 * math.log10(rms) if rms > 0.0 else -math.inf


def rms_normalise(x: np.ndarray, target_dbfs: float = TARGET_RMS_DBFS) -> np.ndarray:
    """Scale a signal to a target RMS level.

    Parameters
    ----------
    x : np.ndarray
        (samples,) signal, full scale 1.0.
    target_dbfs : float
        Target RMS level in dBFS.

    Returns
    -------
    np.ndarray
        (samples,) float32 signal with RMS ``target_dbfs`` dBFS; an all-zero
        input is returned unscaled (as float32) with a warning.
    """
    level_dbfs = rms_dbfs(x)
    if not math.isfinite(level_dbfs):
        warnings.warn("rms_normalise: x is silent (RMS 0); returned unscaled", stacklevel=2)
        return np.asarray(x, dtype=np.float32)
    gain = 10.0 ** ((target_dbfs - level_dbfs) / 20.0)
    return (np.asarray(x, dtype=np.float64) * gain).astype(np.float32)


def is_silent(x: np.ndarray) -> bool:
    """Whether ``x`` (any shape) is empty or below :data:`SILENT_PEAK` / :data:`SILENT_RMS_DBFS`."""
    return x.size == 0 or float(np.max(np.abs(x))) < SILENT_PEAK or rms_dbfs(x) < SILENT_RMS_DBFS


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness (K-weighted, gated) with ``pyloudnorm``.

    Parameters
    ----------
    x : np.ndarray
        (samples,) mono signal, full scale 1.0.
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    float
        Loudness in LUFS; -inf when every gating block lies below the absolute gate
        (-70 LUFS).  A signal shorter than one gating block (:data:`LOUDNESS_BLOCK_S`)
        is measured on its periodic repetition up to one block.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty (samples,) signal, got shape {x.shape}")
    block = int(math.ceil(LOUDNESS_BLOCK_S * sample_rate))
    if x.size < block:
        x = np.resize(x, block)
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))


def loudness_normalise(x: np.ndarray, sample_rate: int,
                       target_lufs: float = TARGET_LOUDNESS_LUFS) -> np.ndarray:
    """Scale a signal to a target integrated loudness (ITU-R BS.1770-4).

    Parameters
    ----------
    x : np.ndarray
        (samples,) mono signal, full scale 1.0.
    sample_rate : int
        Sample rate in Hz.
    target_lufs : float
        Target integrated loudness in LUFS.

    Returns
    -------
    np.ndarray
        (samples,) float32 signal whose :func:`integrated_loudness` is ``target_lufs``.
        A silent input (see :data:`SILENT_PEAK`, :data:`SILENT_RMS_DBFS`) is returned
        unscaled with a warning; one whose every gating block lies below -70 LUFS is
        RMS-normalised to ``target_lufs`` dBFS instead, with a warning.
    """
    x = np.asarray(x, dtype=np.float64)
    if is_silent(x):
        warnings.warn("loudness_normalise: x is silent; returned unscaled", stacklevel=2)
        return x.astype(np.float32)
    loudness = integrated_loudness(x, sample_rate)
    if not math.isfinite(loudness):
        warnings.warn("loudness_normalise: x lies below the -70 LUFS gate; RMS-normalised "
                      "instead", stacklevel=2)
        return rms_normalise(x, target_lufs)
    return (x * 10.0 ** ((target_lufs - loudness) / 20.0)).astype(np.float32)
