"""Channel formats: how a listener turns arriving sound into channels.

A format renders the early part of a response from image-source positions (listener
frame: x front, y left, z up; metres) and describes its diffuse-field behaviour: the
cross-spectral matrix of its channels when sound arrives equally from every direction.
The renderer gives the late tail exactly that matrix, so a binaural tail has the
interaural coherence of the HRTF, a spaced pair the sinc coherence of its spacing, and an
ambisonic tail uncorrelated channels with the SN3D energy ratios.

Conventions: azimuth 0° is the listener's front, +90° its left (counter-clockwise seen
from above); elevation +90° is up; two-channel formats are ordered (left, right).
"""

from __future__ import annotations

import abc

import numpy as np

from ..scene.geometry import SPEED_OF_SOUND_M_S
from . import dsp
from .hrtf import HRTFSet

FORMATS = ("mono", "stereo", "binaural", "foa", "mic4")
STEREO_SPACING_M = 0.2
MIC4_RADIUS_M = 0.042


def unit_vector(azimuth_deg, elevation_deg) -> np.ndarray:
    """Unit vectors (..., 3) in the listener frame for azimuth/elevation in degrees."""
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


class ChannelFormat(abc.ABC):
    """A channel format. Subclasses set ``name`` and ``channel_names``."""

    name: str
    channel_names: tuple[str, ...]

    def __init__(self):
        self._mixing: dict[tuple[int, int], np.ndarray] = {}

    @property
    def num_channels(self) -> int:
        return len(self.channel_names)

    @abc.abstractmethod
    def early_response(self, positions_m: np.ndarray, gains: np.ndarray, sample_rate: int,
                       num_taps: int) -> np.ndarray:
        """Response to point sources (image sources) with spherical spreading.

        Parameters
        ----------
        positions_m : ndarray, shape (n, 3)
            Source positions in the listener frame, metres.
        gains : ndarray, shape (n,)
            Reflection gains (1 for the direct path). Spherical spreading 1/r is applied
            here: unit amplitude at 1 m, as in pyroomacoustics.
        sample_rate : int
        num_taps : int

        Returns
        -------
        response : ndarray, shape (channels, num_taps)
        """

    @abc.abstractmethod
    def diffuse_covariance(self, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
        """Diffuse-field cross-spectral matrix per frequency, shape (F, C, C), complex.

        Normalised so that an omnidirectional capsule has 1.
        """

    def diffuse_mixing(self, sample_rate: int, n_fft: int) -> np.ndarray:
        """Lower-triangular M (F, C, C) with M Mᴴ = diffuse covariance, cached."""
        key = (int(sample_rate), int(n_fft))
        if key not in self._mixing:
            freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
            cov = self.diffuse_covariance(freqs, sample_rate)
            load = 1e-9 * np.trace(cov, axis1=1, axis2=2).real.max()
            mixing = np.linalg.cholesky(cov + load * np.eye(cov.shape[-1]))
            self._mixing[key] = mixing.astype(np.complex64)
        return self._mixing[key]

    def _scatter(self, delays_samples, amplitudes, num_taps):
        """Fractional impulses at shared delays (n,), per-channel amplitudes (C, n)."""
        taps, kernel, keep = dsp.fractional_delay_kernels(delays_samples, num_taps)
        out = np.empty((len(amplitudes), num_taps))
        for c, amp in enumerate(amplitudes):
            values = (amp[:, None] * kernel)[keep]
            out[c] = np.bincount(taps[keep], weights=values, minlength=num_taps)[:num_taps]
        return out


class CapsuleArray(ChannelFormat):
    """Omnidirectional capsules in free field (``mono``, ``stereo``, ``mic4``).

    Parameters
    ----------
    capsules_m : ndarray, shape (C, 3)
        Capsule positions in the listener frame, metres.
    """

    def __init__(self, name: str, capsules_m: np.ndarray, channel_names: tuple[str, ...]):
        super().__init__()
        self.name = name
        self.capsules_m = np.asarray(capsules_m, float).reshape(-1, 3)
        self.channel_names = tuple(channel_names)

    def early_response(self, positions_m, gains, sample_rate, num_taps):
        out = np.empty((self.num_channels, num_taps))
        for c, capsule in enumerate(self.capsules_m):
            r = np.linalg.norm(positions_m - capsule, axis=1)
            out[c] = self._scatter(r / SPEED_OF_SOUND_M_S * sample_rate,
                                   (gains / r)[None], num_taps)[0]
        return out

    def diffuse_covariance(self, freqs_hz, sample_rate):
        spacing = np.linalg.norm(self.capsules_m[:, None] - self.capsules_m[None], axis=-1)
        coherence = np.sinc(2.0 * freqs_hz[:, None, None] * spacing[None] / SPEED_OF_SOUND_M_S)
        return coherence.astype(complex)


class Ambisonics(ChannelFormat):
    """First-order ambisonics, ACN channel order (W, Y, Z, X), SN3D normalisation."""

    name = "foa"
    channel_names = ("W", "Y", "Z", "X")

    def early_response(self, positions_m, gains, sample_rate, num_taps):
        r = np.linalg.norm(positions_m, axis=1)
        u = positions_m / r[:, None]
        harmonics = np.stack([np.ones_like(r), u[:, 1], u[:, 2], u[:, 0]])  # (4, n)
        return self._scatter(r / SPEED_OF_SOUND_M_S * sample_rate,
                             harmonics * gains / r, num_taps)

    def diffuse_covariance(self, freqs_hz, sample_rate):
        return np.broadcast_to(np.diag([1.0, 1 / 3, 1 / 3, 1 / 3]).astype(complex),
                               (len(freqs_hz), 4, 4)).copy()


class Binaural(ChannelFormat):
    """Ear signals through measured HRIRs (nearest measured direction per image source).

    Parameters
    ----------
    hrtf : HRTFSet, optional
        Defaults to ``HRTFSet.from_sofa(sofa_path)``, loaded on first use.
    sofa_path : str, optional
        A SimpleFreeFieldHRIR SOFA file; default MIT KEMAR from Debian's libmysofa1.
    """

    name = "binaural"
    channel_names = ("left", "right")

    def __init__(self, hrtf: HRTFSet | None = None, sofa_path=None):
        super().__init__()
        self._hrtf, self.sofa_path = hrtf, sofa_path
        self._spectra: dict[int, tuple[int, np.ndarray]] = {}

    @property
    def hrtf(self) -> HRTFSet:
        if self._hrtf is None:
            self._hrtf = HRTFSet.from_sofa(self.sofa_path)
        return self._hrtf

    def _hrtf_spectra(self, sample_rate):
        if sample_rate not in self._spectra:
            hrirs = self.hrtf.hrirs_at(sample_rate)
            n_fft = 1 << int(np.ceil(np.log2(hrirs.shape[-1] + 2)))
            self._spectra[sample_rate] = (n_fft, np.fft.rfft(hrirs, n=n_fft, axis=-1))
        return self._spectra[sample_rate]

    def early_response(self, positions_m, gains, sample_rate, num_taps):
        r = np.linalg.norm(positions_m, axis=1)
        index = self.hrtf.nearest(positions_m / r[:, None])
        n_fft, spectra = self._hrtf_spectra(sample_rate)
        delay = r / SPEED_OF_SOUND_M_S * sample_rate
        base = np.floor(delay).astype(int)
        filters = dsp.fractional_shift_spectra(spectra[index], delay - base, n_fft)
        filters *= (gains / r)[:, None, None]
        taps = base[:, None] + np.arange(n_fft)[None, :]
        keep = taps < num_taps
        out = np.empty((2, num_taps))
        for ear in range(2):
            out[ear] = np.bincount(taps[keep], weights=filters[:, ear][keep],
                                   minlength=num_taps)[:num_taps]
        return out

    def diffuse_covariance(self, freqs_hz, sample_rate):
        n_fft, spectra = self._hrtf_spectra(sample_rate)
        index, weight = self.hrtf.diffuse_weights()
        h = spectra[index]  # (m, 2, bins)
        cov = np.einsum("m,mif,mjf->fij", weight, h, h.conj())
        grid = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        flat = cov.reshape(len(grid), -1)
        out = np.stack([np.interp(freqs_hz, grid, flat[:, k].real)
                        + 1j * np.interp(freqs_hz, grid, flat[:, k].imag)
                        for k in range(flat.shape[1])], axis=1)
        return out.reshape(len(freqs_hz), 2, 2)


def _tetrahedron(radius_m: float) -> np.ndarray:
    azimuth = np.array([45.0, -45.0, 135.0, -135.0])
    elevation = np.degrees(np.arcsin(1 / np.sqrt(3))) * np.array([1, -1, -1, 1])
    return radius_m * unit_vector(azimuth, elevation)


def make_format(name: str, sofa_path=None, hrtf: HRTFSet | None = None) -> ChannelFormat:
    """Build a channel format by name (one of ``FORMATS``)."""
    if name == "mono":
        return CapsuleArray("mono", np.zeros((1, 3)), ("mono",))
    if name == "stereo":
        half = STEREO_SPACING_M / 2
        return CapsuleArray("stereo", [[0, half, 0], [0, -half, 0]], ("left", "right"))
    if name == "mic4":
        return CapsuleArray("mic4", _tetrahedron(MIC4_RADIUS_M), ("m1", "m2", "m3", "m4"))
    if name == "foa":
        return Ambisonics()
    if name == "binaural":
        return Binaural(hrtf=hrtf, sofa_path=sofa_path)
    raise ValueError(f"channel_format must be one of {FORMATS}, got {name!r}")
