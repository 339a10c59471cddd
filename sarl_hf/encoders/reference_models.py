"""The reference encoders as ``transformers`` models: log-mel and spatial-cue statistics.

Both models are deterministic signal processing with no learned weights. Their fixed
tensors (window, mel or band filterbank) are computed from the config and stored in the
state dict, so ``save_pretrained`` / ``AutoModel.from_pretrained`` round-trip them like any
checkpoint (``transformers`` needs at least one parameter to save a model: the filterbank
is a frozen ``nn.Parameter``). A saved folder loads without this package:
``save_pretrained`` copies this module and the sibling modules it imports (their classes
are registered with ``register_for_auto_class``, see :mod:`.reference_configs`) and writes
``preprocessor_config.json`` (:mod:`.reference_extractor`), so that
``AutoModel.from_pretrained(folder, trust_remote_code=True)`` and ``AutoFeatureExtractor``
load it anywhere ``transformers`` is installed.

Framing (both models): frames of ``n_fft`` samples every ``hop_length`` samples, Hann
window, no centring, so a frame only ever sees samples of its own clip. A clip of length L
has ``1 + max(0, L - n_fft) // hop_length`` frames (a clip shorter than ``n_fft`` is one
zero-padded frame); every statistic is taken over those frames only, so zero padding in a
batch never changes an embedding.

Conventions: channels first, azimuth 0° front and +90° left, listener frame x front,
y left, z up. For a channel pair (i, j) with i < j, every interaural feature is positive
when the sound reaches channel i first or louder: for ``stereo`` and ``binaural``
(left, right) a positive delay, ILD or IPD means a source on the left.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .reference_configs import FOA_CHANNELS
from .reference_configs import LAYOUTS
from .reference_configs import LOGMEL_LAYERS
from .reference_configs import SarlLogMelConfig
from .reference_configs import SarlSpatialConfig
from .reference_extractor import SarlFeatureExtractor
from .reference_features import logmel_stats
from .reference_features import spatial_features
from .reference_features import spatial_layer_names
from .wavefront import wavefront_features

@dataclass
class SarlReferenceOutput(ModelOutput):
    """Output of the reference models.

    Attributes
    ----------
    last_hidden_state : FloatTensor, shape (batch, dim)
        The ``all`` layer (every other layer concatenated).
    hidden_states : tuple of FloatTensor, each (batch, dim_k)
        One pooled statistic per layer, in the order of ``model.layer_names(...)``.
    """

    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


def hann(n_fft: int) -> torch.Tensor:
    """Periodic Hann window, shape (n_fft,), float32."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32)


def band_matrix(edges_hz, sample_rate: int, n_fft: int) -> torch.Tensor:
    """0/1 matrix (bands, n_fft // 2 + 1) selecting the rfft bins of each band.

    Raises ValueError when a band holds no bin (too narrow for ``n_fft``).
    """
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    edges = torch.tensor(edges_hz, dtype=torch.float64)
    low, high = edges[:-1, None], edges[1:, None]
    last = torch.arange(len(edges) - 1)[:, None] == len(edges) - 2
    inside = (freqs >= low) & ((freqs < high) | (last & (freqs <= high)))
    empty = [f"{a:g}-{b:g} Hz" for a, b, n in zip(edges_hz, edges_hz[1:], inside.sum(1)) if n == 0]
    if empty:
        raise ValueError(f"band_edges_hz: bands {empty} hold no frequency bin at n_fft={n_fft}")
    return inside.to(torch.float32)


def htk_mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int,
                       sample_rate: int) -> torch.Tensor:
    """Triangular mel filters on the HTK scale, no area normalisation (the values of
    ``torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale="htk")``, bit for
    bit, without needing torchaudio).

    Returns
    -------
    FloatTensor, shape (n_freqs, n_mels)
        Column m weights the rfft bins of band m.
    """
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_min, m_max = (2595.0 * math.log10(1.0 + f / 700.0) for f in (f_min, f_max))
    f_pts = 700.0 * (10.0 ** (torch.linspace(m_min, m_max, n_mels + 2) / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)  # (n_freqs, n_mels + 2)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.max(torch.zeros(1), torch.min(down, up))


class _ReferenceModel(PreTrainedModel):
    """Shared machinery: fixed tensors computed from the config, frozen after loading."""

    main_input_name = "input_values"
    base_model_prefix = "sarl"
    supports_gradient_checkpointing = False

    def fixed_tensors(self) -> dict[str, torch.Tensor]:
        """Every state-dict tensor as the config defines it, computed on the CPU (also
        while ``from_pretrained`` builds the model on the meta device)."""
        with torch.device("cpu"):
            return self._compute_fixed_tensors()

    def _compute_fixed_tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _init_weights(self, module):
        """Recompute the fixed tensors (``from_pretrained`` calls it for missing keys)."""
        if module is self:
            for name, value in self.fixed_tensors().items():
                init.copy_(getattr(self, name), value)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """``PreTrainedModel.from_pretrained``, then frozen (no gradients) and in eval mode."""
        model = super().from_pretrained(*args, **kwargs)
        return model.requires_grad_(False).eval()

    def feature_extractor(self) -> SarlFeatureExtractor:
        """The feature extractor of this config: its sampling rate, any channel count."""
        return SarlFeatureExtractor(sampling_rate=self.config.sample_rate)

    def save_pretrained(self, save_directory, is_main_process: bool = True, state_dict=None,
                        push_to_hub: bool = False, *, feature_extractor=None, **kwargs):
        """``PreTrainedModel.save_pretrained`` (config, weights, and the modelling code that
        ``register_for_auto_class`` copies), then ``preprocessor_config.json``.

        Parameters
        ----------
        feature_extractor : SarlFeatureExtractor, optional
            Saved beside the model; default :meth:`feature_extractor` (e.g. pass one with
            ``channel_format="binaural", channel_names=["left", "right"]`` for a folder
            meant for binaural audio).
        push_to_hub : bool
            After saving, ``push_to_hub`` the folder (``repo_id`` default: its name).
        """
        hub = {k: kwargs.pop(k) for k in ("repo_id", "commit_message", "create_pr", "private",
                                          "token", "revision") if k in kwargs}
        super().save_pretrained(save_directory, is_main_process=is_main_process,
                                state_dict=state_dict, **kwargs)
        if is_main_process:
            (feature_extractor or self.feature_extractor()).save_pretrained(save_directory)
        if push_to_hub and is_main_process:
            repo_id = hub.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **hub)

    def _check_input(self, input_values, attention_mask):
        if input_values.ndim != 3:
            raise ValueError("input_values must be (batch, channels, samples), got shape "
                             f"{tuple(input_values.shape)}")
        if attention_mask is not None and attention_mask.shape != (input_values.shape[0],
                                                                   input_values.shape[2]):
            raise ValueError(f"attention_mask must be (batch, samples) = "
                             f"{(input_values.shape[0], input_values.shape[2])}, got "
                             f"{tuple(attention_mask.shape)}")

    @staticmethod
    def _output(layers: dict[str, torch.Tensor], return_dict: bool | None):
        hidden = tuple(layers.values())
        if return_dict is False:
            return hidden[-1], hidden
        return SarlReferenceOutput(last_hidden_state=hidden[-1], hidden_states=hidden)


class SarlLogMelModel(_ReferenceModel):
    """``sarl-logmel``: mean, std and delta std over time of the log-mel spectrogram.

    Layers (C = 1 with ``channel_mode="downmix"``, else the input channels; M = n_mels;
    every layer is channel-major: channel 0's M values, then channel 1's ...):

    - ``logmel_mean`` (C·M): mean over frames of ln(mel power + log_floor);
    - ``logmel_std`` (C·M): its standard deviation over frames;
    - ``logmel_meanstd`` (2·C·M): ``logmel_mean`` then ``logmel_std``;
    - ``delta_std`` (C·M): standard deviation of the frame-to-frame difference (0 for a
      one-frame clip);
    - ``all`` (3·C·M): ``logmel_mean``, ``logmel_std``, ``delta_std``.
    """

    config_class = SarlLogMelConfig

    def __init__(self, config: SarlLogMelConfig):
        super().__init__(config)
        tensors = self.fixed_tensors()
        self.register_buffer("window", tensors["window"])
        self.mel_filterbank = torch.nn.Parameter(tensors["mel_filterbank"], requires_grad=False)
        self.post_init()

    def _compute_fixed_tensors(self):
        c = self.config
        fbank = htk_mel_filterbank(c.n_fft // 2 + 1, float(c.f_min), float(c.f_max), c.n_mels,
                                   c.sample_rate)
        return {"window": hann(c.n_fft), "mel_filterbank": fbank.to(torch.float32)}

    def layer_names(self, num_channels: int | None = None, layout: str | None = None):
        """Names of the layers, in order (the same for every channel count)."""
        return LOGMEL_LAYERS

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                return_dict: bool | None = None, **kwargs):
        """Log-mel statistics.

        Parameters
        ----------
        input_values : FloatTensor, shape (batch, channels, samples)
            Audio at ``config.sample_rate``, zero-padded on the right.
        attention_mask : LongTensor, shape (batch, samples), optional
            1 for real samples, 0 for padding (a prefix of ones per row).

        Returns
        -------
        SarlReferenceOutput
            ``hidden_states`` in the order of ``LOGMEL_LAYERS``, each (batch, dim).
        """
        self._check_input(input_values, attention_mask)
        x = input_values.to(self.window.dtype)
        if self.config.channel_mode == "downmix":
            x = x.mean(dim=1, keepdim=True)
        stats = logmel_stats(x, attention_mask, self.window, self.mel_filterbank.detach(),
                             self.config.hop_length, self.config.log_floor)
        return self._output(dict(zip(LOGMEL_LAYERS, stats)), return_dict)


class SarlSpatialModel(_ReferenceModel):
    """``sarl-spatial``: interaural / inter-channel cues and FOA intensity.

    C channels, P = C(C-1)/2 pairs (i, j), i < j, in lexicographic order, B bands, N lags
    (2·round(max_delay_ms·sample_rate·gcc_interp/1000) + 1). Layers by input:

    - every input: ``energy`` (C·B·2): per channel and band, the level of the
      time-averaged power (dB) and the standard deviation over frames of the frame level
      (dB);
    - 2 or more channels (``layout`` None): ``gcc_phat`` (P·N): the frame-averaged
      PHAT-weighted cross-correlation at lags -max..+max (peak 1 for one coherent
      plane wave), positive lag = channel i leads; ``delay_ms`` (P): the lag of its
      peak (parabolic interpolation), ms, positive = channel i first; ``ild_ipd``
      (P·B·3): per band ILD dB (positive = i louder), cos and sin of the IPD of the
      time-averaged cross-spectrum (phase of X_i·conj(X_j): positive = i leads);
      ``coherence`` (P·B): coherence |S_ij| / sqrt(S_ii·S_jj) of the time-averaged
      cross-spectrum, in [0, 1];
    - ``layout="foa"`` (4 channels W, Y, Z, X): ``intensity`` ((B+1)·3): per band, the
      active intensity Re{conj(W)·[X, Y, Z]} averaged over frames and divided by the
      energy density (|W|² + |X|² + |Y|² + |Z|²)/2 of the band (norm 1 for a plane wave,
      0 for a diffuse field), (x, y, z) in the listener frame; first comes the
      broadband vector, the mean of the band vectors (every band weighted alike, so that
      the strong room modes of the lowest band do not dominate); ``diffuseness`` (B+1):
      1 - the norm of each vector, broadband first;
    - the first wavefront (:mod:`.wavefront`: the ``wavefront_ms`` after the clip's first
      onset, before reflections): with 2 or more channels ``direct_xcorr`` (P·N), the
      normalised cross-correlation at the lags of ``gcc_phat`` (every lag sees the whole
      window: :func:`.wavefront.wavefront_pairs`), positive lag = channel i leads;
      ``direct_lag_code`` (P·N), its peak lag as a place code (one unit per lag,
      triangular tuning two lags wide, as coincidence detectors code the ITD);
      ``direct_delay_ms`` (P), its peak lag; ``direct_ild`` (P), dB, positive = i louder;
      with ``layout="foa"`` ``direct_intensity`` (3), the active intensity over the energy
      density (x, y, z), a unit vector towards a lone plane wave, ``direct_diffuseness`` (1);
    - ``all``: every layer above, concatenated in this order.
    """

    config_class = SarlSpatialConfig

    def __init__(self, config: SarlSpatialConfig):
        super().__init__(config)
        tensors = self.fixed_tensors()
        self.register_buffer("window", tensors["window"])
        self.register_buffer("gcc_bins", tensors["gcc_bins"])
        self.band_filterbank = torch.nn.Parameter(tensors["band_filterbank"],
                                                  requires_grad=False)
        self.post_init()

    def _compute_fixed_tensors(self):
        c = self.config
        bands = band_matrix(c.band_edges_hz, c.sample_rate, c.n_fft)
        gcc = band_matrix([float(c.gcc_f_min), float(c.gcc_f_max)], c.sample_rate, c.n_fft)[0]
        return {"window": hann(c.n_fft), "gcc_bins": gcc, "band_filterbank": bands}

    def feature_extractor(self) -> SarlFeatureExtractor:
        """The feature extractor of this config: ``foa`` audio (W, Y, Z, X) for
        ``layout="foa"``, else any channel count."""
        if self.config.layout == "foa":
            return SarlFeatureExtractor(sampling_rate=self.config.sample_rate,
                                        channel_format="foa", channel_names=FOA_CHANNELS)
        return super().feature_extractor()

    @property
    def max_lag(self) -> int:
        """Largest GCC-PHAT lag in units of 1 / gcc_interp samples."""
        c = self.config
        return int(round(c.max_delay_ms * 1e-3 * c.sample_rate * c.gcc_interp))

    def layer_names(self, num_channels: int | None = None, layout: str | None = None):
        """Names of the layers for ``num_channels`` (None: 2 or more) and ``layout``."""
        layout = self.config.layout if layout is None else layout
        return spatial_layer_names(num_channels, layout)

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                layout: str | None = None, return_dict: bool | None = None, **kwargs):
        """Spatial-cue statistics.

        Parameters
        ----------
        input_values : FloatTensor, shape (batch, channels, samples)
            Audio at ``config.sample_rate``, zero-padded on the right.
        attention_mask : LongTensor, shape (batch, samples), optional
            1 for real samples, 0 for padding (a prefix of ones per row).
        layout : str, optional
            ``foa`` or None; default ``config.layout``.

        Returns
        -------
        SarlReferenceOutput
            ``hidden_states`` in the order of ``layer_names(channels, layout)``.
        """
        self._check_input(input_values, attention_mask)
        layout = self.config.layout if layout is None else layout
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if layout == "foa" and input_values.shape[1] != 4:
            raise ValueError(f"layout 'foa' needs 4 channels (W, Y, Z, X), got "
                             f"{input_values.shape[1]}")
        x = input_values.to(self.window.dtype)
        if attention_mask is None:
            lengths = torch.full((x.shape[0],), x.shape[-1], device=x.device)
        else:
            keep = attention_mask.to(x.device) != 0
            lengths, x = keep.sum(-1), x * keep[:, None, :].to(x.dtype)
        layers = spatial_features(x, attention_mask, self, layout)
        layers.update(wavefront_features(x, lengths, self.config, layout, self.max_lag))
        layers["all"] = torch.cat(list(layers.values()), dim=1)
        return self._output(layers, return_dict)


SarlLogMelModel.register_for_auto_class("AutoModel")
SarlSpatialModel.register_for_auto_class("AutoModel")
