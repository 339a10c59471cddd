"""Configs of the reference encoders ``sarl-logmel`` and ``sarl-spatial``.

This module, :mod:`.reference_models`, :mod:`.reference_features`, :mod:`.wavefront` and
:mod:`.reference_extractor` are the modelling code that ``save_pretrained`` copies into a
saved folder (``register_for_auto_class``), so that ``AutoModel.from_pretrained(folder,
trust_remote_code=True)`` loads it where this package is not installed: they import only
torch, numpy, ``transformers`` and ``huggingface_hub``, and each other by relative
imports of sibling modules.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

LAYOUTS = (None, "foa")
#: The channels of ``layout="foa"``, in order (ACN/SN3D first order).
FOA_CHANNELS = ("W", "Y", "Z", "X")
CHANNEL_MODES = ("downmix", "per_channel")
LOGMEL_LAYERS = ("logmel_mean", "logmel_std", "logmel_meanstd", "delta_std", "all")


def _check_positive(name: str, value) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_frequencies(name: str, low, high, sample_rate) -> None:
    if not 0 <= low < high <= sample_rate / 2:
        raise ValueError(f"{name} must satisfy 0 <= low < high <= sample_rate / 2 "
                         f"({sample_rate / 2:g} Hz), got ({low!r}, {high!r})")


@strict(accept_kwargs=True)
class SarlLogMelConfig(PreTrainedConfig):
    """Config of ``sarl-logmel``: log-mel spectrogram statistics.

    Attributes
    ----------
    sample_rate : int
        Hz of the input.
    n_fft, hop_length : int
        Frame and hop in samples (default 25 ms / 10 ms at 16 kHz).
    n_mels : int
        Mel bands (HTK mel scale, no area normalisation).
    f_min, f_max : float
        Edges of the mel filterbank, Hz.
    log_floor : float
        Added to the mel power before the natural log.
    channel_mode : str
        ``downmix`` (the mean of the input channels) or ``per_channel`` (statistics of each
        channel, concatenated in channel order).
    """

    model_type = "sarl-logmel"
    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 64
    f_min: float | int = 50.0
    f_max: float | int = 8000.0
    log_floor: float = 1e-10
    channel_mode: str = "downmix"

    def __post_init__(self, **kwargs):
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "log_floor"):
            _check_positive(name, getattr(self, name))
        _check_frequencies("(f_min, f_max)", self.f_min, self.f_max, self.sample_rate)
        if self.channel_mode not in CHANNEL_MODES:
            raise ValueError(f"channel_mode must be one of {CHANNEL_MODES}, got "
                             f"{self.channel_mode!r}")
        super().__post_init__(**kwargs)


@strict(accept_kwargs=True)
class SarlSpatialConfig(PreTrainedConfig):
    """Config of ``sarl-spatial``: GCC-PHAT, ILD/IPD, coherence, FOA intensity.

    Attributes
    ----------
    sample_rate : int
        Hz of the input.
    n_fft, hop_length : int
        Frame and hop in samples (default 64 ms / 16 ms at 16 kHz).
    band_edges_hz : list of float
        Edges of the frequency bands of the energy, ILD/IPD, coherence and intensity
        features (bands are [edge_k, edge_k+1), the last one closed); B = len - 1 bands.
    max_delay_ms : float
        The GCC-PHAT lag vector spans ±max_delay_ms.
    gcc_interp : int
        Lag resolution of GCC-PHAT is 1 / gcc_interp samples.
    gcc_f_min, gcc_f_max : float
        Bins used by GCC-PHAT, Hz.
    level_floor : float
        Power floor of every dB value.
    layout : str or None
        ``foa`` when the 4 channels are first-order ambisonics (W, Y, Z, X; ACN/SN3D);
        None for spaced or binaural channels. ``forward(layout=...)`` overrides it.
    wavefront_ms, pair_wavefront_ms : float
        ms after the onset that the ``direct_*`` layers read: FOA intensity (the shorter,
        the fewer reflections), channel pairs (a correlation needs a few periods).
    onset_floor_db, onset_threshold_db, onset_search_ms : float
        The clip begins ``onset_floor_db`` below its envelope's maximum; its onset is the
        first sample within ``onset_threshold_db`` of the peak in ``onset_search_ms``.
    """

    model_type = "sarl-spatial"
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    band_edges_hz: list[float | int] | tuple[float | int, ...] = (
        100.0, 250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0)
    max_delay_ms: float | int = 1.0
    gcc_interp: int = 2
    gcc_f_min: float | int = 100.0
    gcc_f_max: float | int = 8000.0
    level_floor: float = 1e-10
    layout: str | None = None
    wavefront_ms: float | int = 1.0
    pair_wavefront_ms: float | int = 1.0
    onset_floor_db: float | int = -60.0
    onset_threshold_db: float | int = -40.0
    onset_search_ms: float | int = 50.0

    def __post_init__(self, **kwargs):
        for name in ("sample_rate", "n_fft", "hop_length", "max_delay_ms", "gcc_interp",
                     "level_floor", "wavefront_ms", "pair_wavefront_ms", "onset_search_ms"):
            _check_positive(name, getattr(self, name))
        for name in ("onset_floor_db", "onset_threshold_db"):
            if not getattr(self, name) < 0:
                raise ValueError(f"{name} must be negative (dB below a peak), got "
                                 f"{getattr(self, name)!r}")
        edges = [float(e) for e in self.band_edges_hz]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"band_edges_hz must be at least 2 increasing values, got {edges}")
        _check_frequencies("band_edges_hz (first, last)", edges[0], edges[-1], self.sample_rate)
        self.band_edges_hz = edges
        _check_frequencies("(gcc_f_min, gcc_f_max)", self.gcc_f_min, self.gcc_f_max,
                           self.sample_rate)
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        super().__post_init__(**kwargs)


SarlLogMelConfig.register_for_auto_class("AutoConfig")
SarlSpatialConfig.register_for_auto_class("AutoConfig")
