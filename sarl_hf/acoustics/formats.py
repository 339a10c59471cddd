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

from ..registry import Registry
from . import dsp
from .directions import unit_vector
from .hrtf import HRTFSet
from .rooms import SPEED_OF_SOUND_M_S

STEREO_SPACING_M = 0.2
MIC4_RADIUS_M = 0.042


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


#: Every channel format: name → ``factory(sofa_path, hrtf) -> ChannelFormat``.
CHANNEL_FORMATS = Registry("channel format")


def register_format(name: str, factory, replace: bool = False):
    """Register a channel format; ``factory(sofa_path=None, hrtf=None)`` builds it."""
    return CHANNEL_FORMATS.register(name, factory, replace=replace)


def format_names() -> tuple[str, ...]:
    """The registered channel formats, in registration order."""
    return CHANNEL_FORMATS.names()


def check_format(name: str) -> str:
    """``name`` if it is a registered channel format, else a ValueError listing them."""
    if name not in CHANNEL_FORMATS:
        raise ValueError(f"channel_format must be one of {format_names()}, got {name!r}")
    return name


def check_formats(formats) -> tuple[str, ...]:
    """A non-empty sequence of distinct registered formats as a tuple, else a ValueError
    naming the unknown or repeated ones."""
    if isinstance(formats, str):
        raise ValueError(f"formats must be a sequence of format names, got the string "
                         f"{formats!r}; choose from {format_names()}")
    formats = tuple(formats)
    unknown = [f for f in formats if f not in CHANNEL_FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats: unknown {unknown}; choose from {format_names()}")
    repeated = sorted({f for f in formats if formats.count(f) > 1})
    if repeated:
        raise ValueError(f"formats: {', '.join(repeated)} given more than once in "
                         f"{list(formats)}; give each format once")
    return formats


def make_format(name: str, sofa_path=None, hrtf: HRTFSet | None = None) -> ChannelFormat:
    """Build a channel format by name (one of :func:`format_names`)."""
    return CHANNEL_FORMATS[check_format(name)](sofa_path=sofa_path, hrtf=hrtf)


def _stereo(**_) -> CapsuleArray:
    half = STEREO_SPACING_M / 2
    return CapsuleArray("stereo", [[0, half, 0], [0, -half, 0]], ("left", "right"))


register_format("mono", lambda **_: CapsuleArray("mono", np.zeros((1, 3)), ("mono",)))
register_format("stereo", _stereo)
register_format("binaural", lambda sofa_path=None, hrtf=None: Binaural(hrtf=hrtf,
                                                                       sofa_path=sofa_path))
register_format("foa", lambda **_: Ambisonics())
register_format("mic4", lambda **_: CapsuleArray("mic4", _tetrahedron(MIC4_RADIUS_M),
                                                 ("m1", "m2", "m3", "m4")))
#: The built-in formats, the default of every corpus.
FORMATS = format_names()
