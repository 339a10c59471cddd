"""Reading head-related impulse responses from a SOFA file through ``sofar``.

The reader renders only what it understands: the ``SimpleFreeFieldHRIR`` convention (a
listener at the origin looking along +x with +z up, two ears, FIR data), with its
``Data.Delay`` added to the impulse responses and the ears told apart by their
``ReceiverPosition`` (left: +y), not by their index.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .directions import unit_vector

#: The SOFA conventions this reader renders (``GLOBAL_SOFAConventions``).
SUPPORTED_CONVENTIONS = ("SimpleFreeFieldHRIR",)
#: Largest ``Data.Delay`` accepted, in samples (a second at 48 kHz): more is a broken file.
MAX_DELAY_SAMPLES = 48000


def read_sofa_hrirs(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, float]:
    """Directions, (left, right) HRIRs and sampling rate of a SimpleFreeFieldHRIR file.

    Parameters
    ----------
    path : str or PathLike
        A SOFA file (netCDF-4).

    Returns
    -------
    directions : ndarray, shape (m, 3)
        Unit vectors of the source positions in the listener frame (x front, y left, z up).
    hrirs : ndarray, shape (m, 2, taps)
        Left ear first, then right, with ``Data.Delay`` (samples) added in front: ``taps``
        is the file's length plus the largest delay (plus one for a fractional delay).
    sample_rate : float
        Hz.

    Raises
    ------
    ValueError
        The file is not readable SOFA, its convention is not one this reader renders, or
        its data contradict that convention (receivers, delays, positions, listener).
    """
    import sofar

    path = Path(path)
    try:
        sofa = sofar.read_sofa(str(path), verify=False, verbose=False)
    except Exception as err:  # netCDF4 and sofar raise OSError, KeyError, ValueError...
        raise ValueError(f"{path} is not a readable SOFA file: {' '.join(str(err).split())}") \
            from err
    _check_convention(sofa, path)
    _check_listener(sofa, path)
    ir = np.asarray(sofa.Data_IR, float)
    if ir.ndim != 3 or ir.shape[1] != 2 or ir.shape[2] < 1:
        raise ValueError(f"{path}: Data.IR must have shape (measurements, 2 receivers, "
                         f"samples), got {ir.shape}")
    rate = float(np.asarray(sofa.Data_SamplingRate, float).ravel()[0])
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"{path}: Data.SamplingRate must be a positive number of Hz, got "
                         f"{rate}")
    hrirs = delayed(ir, _delays(sofa, ir.shape[0], path))
    if _left_receiver(sofa, path) == 1:
        hrirs = hrirs[:, ::-1]
    return _directions(sofa, ir.shape[0], path), np.ascontiguousarray(hrirs), rate


def _check_convention(sofa, path: Path) -> None:
    convention = str(getattr(sofa, "GLOBAL_SOFAConventions", ""))
    if convention not in SUPPORTED_CONVENTIONS:
        raise ValueError(f"{path}: SOFA convention {convention or 'unnamed'!r} cannot be "
                         f"rendered here; supported: {', '.join(SUPPORTED_CONVENTIONS)} "
                         "(an HRIR per direction, listener at the origin)")
    data_type = str(getattr(sofa, "GLOBAL_DataType", "FIR"))
    if data_type != "FIR":
        raise ValueError(f"{path}: GLOBAL_DataType must be FIR for {convention}, got "
                         f"{data_type!r}")


def _check_listener(sofa, path: Path) -> None:
    """The listener frame the directions are read in: view +x, up +z."""
    for name, expected in (("ListenerView", (1.0, 0.0, 0.0)), ("ListenerUp", (0.0, 0.0, 1.0))):
        value = getattr(sofa, name, None)
        if value is None:
            continue
        vectors = _cartesian(np.atleast_2d(np.asarray(value, float)),
                             str(getattr(sofa, f"{name}_Type", "cartesian")))
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if not np.allclose(vectors, expected, atol=1e-6):
            raise ValueError(f"{path}: {name} must be {list(expected)} (directions are read "
                             f"in the listener's frame), got {vectors[0].round(6).tolist()}")


def _delays(sofa, num_measurements: int, path: Path) -> np.ndarray:
    """``Data.Delay`` as (m, 2) samples: one row for every measurement, or one per file."""
    delay = np.asarray(getattr(sofa, "Data_Delay", np.zeros((1, 2))), float)
    delay = np.atleast_2d(delay)
    if delay.shape not in ((1, 2), (num_measurements, 2)):
        raise ValueError(f"{path}: Data.Delay must have shape (1, 2) or ({num_measurements}, 2)"
                         f" (samples per receiver), got {delay.shape}")
    if not np.all(np.isfinite(delay)) or delay.min() < 0 or delay.max() > MAX_DELAY_SAMPLES:
        raise ValueError(f"{path}: Data.Delay must hold delays of 0 to {MAX_DELAY_SAMPLES} "
                         f"samples, got {delay.min()} to {delay.max()}")
    return np.broadcast_to(delay, (num_measurements, 2))


def delayed(ir: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """Impulse responses with their delays in front.

    Parameters
    ----------
    ir : ndarray, shape (m, r, n)
    delay : ndarray, shape (m, r)
        Samples (at least 0). A whole number moves a response exactly; a fraction goes
        through a band-limited (FFT phase) shift.

    Returns
    -------
    ndarray, shape (m, r, n + ceil(max(delay)))
    """
    whole = np.floor(delay + 1e-9).astype(int)
    fraction = np.where(delay - whole > 1e-9, delay - whole, 0.0)
    n = ir.shape[-1] + int(fraction.any())
    if fraction.any():  # zero padding keeps the shift's circular wrap out of the taps kept
        n_fft = 1 << int(np.ceil(np.log2(2 * n)))
        spectra = np.fft.rfft(ir, n=n_fft, axis=-1)
        phase = np.exp(-2j * np.pi * fraction[..., None] * np.arange(spectra.shape[-1])
                       / n_fft)
        ir = np.fft.irfft(spectra * phase, n=n_fft, axis=-1)[..., :n]
    out = np.zeros(ir.shape[:2] + (n + int(whole.max()),))
    for (m, r), offset in np.ndenumerate(whole):
        out[m, r, offset:offset + n] = ir[m, r, :n]
    return out


def _left_receiver(sofa, path: Path) -> int:
    """Index of the left ear: the receiver further along +y."""
    position = np.asarray(sofa.ReceiverPosition, float)
    if position.shape[:2] != (2, 3):
        raise ValueError(f"{path}: ReceiverPosition must hold 2 receivers × 3 coordinates, "
                         f"got shape {position.shape}")
    position = position.reshape(2, 3, -1)[:, :, 0]
    y = _cartesian(position, str(getattr(sofa, "ReceiverPosition_Type", "cartesian")))[:, 1]
    if abs(y[0] - y[1]) < 1e-6:
        raise ValueError(f"{path}: ReceiverPosition puts both receivers at y = {y[0]:g} m, so "
                         "neither is known to be the left ear (+y)")
    return int(np.argmax(y))


def _directions(sofa, num_measurements: int, path: Path) -> np.ndarray:
    position = np.atleast_2d(np.asarray(sofa.SourcePosition, float))
    if position.shape != (num_measurements, 3):
        raise ValueError(f"{path}: SourcePosition must have shape ({num_measurements}, 3), "
                         f"got {position.shape}")
    kind = str(getattr(sofa, "SourcePosition_Type", "spherical"))
    units = str(getattr(sofa, "SourcePosition_Units", "degree"))
    if "spherical" in kind.lower():  # the direction from the angles alone, as measured
        angles = np.degrees(position[:, :2]) if "rad" in units.lower() else position[:, :2]
        return unit_vector(angles[:, 0], angles[:, 1])
    vectors = position
    norm = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.all(norm > 0):
        raise ValueError(f"{path}: SourcePosition has a source at the listener's centre, "
                         "which has no direction")
    return vectors / norm


def _cartesian(position: np.ndarray, kind: str) -> np.ndarray:
    """Points (n, 3) as x, y, z from SOFA's ``cartesian`` or ``spherical`` (azimuth,
    elevation in degrees, radius) coordinates."""
    if "spherical" not in kind.lower():
        return position
    return position[:, 2:3] * unit_vector(position[:, 0], position[:, 1])
