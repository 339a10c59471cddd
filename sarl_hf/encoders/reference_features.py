"""Feature computations of the reference models, vectorised over batch × channels × frames.

Everything here is plain torch on tensors; ``reference_models`` holds the configs and the
``transformers`` classes that call it. Every statistic is over the frames of a clip only
(``frame_mask``), so zero padding in a batch never changes a value.
"""

from __future__ import annotations

import torch

FOA_LAYERS = ("energy", "intensity", "diffuseness", "direct_intensity", "direct_diffuseness",
              "all")
MONO_LAYERS = ("energy", "all")
PAIR_LAYERS = ("energy", "gcc_phat", "delay_ms", "ild_ipd", "coherence", "direct_xcorr",
               "direct_lag_code", "direct_delay_ms", "direct_ild", "all")


def spatial_layer_names(num_channels: int | None, layout: str | None) -> tuple[str, ...]:
    """Layers of ``sarl-spatial`` for a channel count (None: 2 or more) and a layout."""
    if layout == "foa":
        return FOA_LAYERS
    return MONO_LAYERS if num_channels == 1 else PAIR_LAYERS


def masked_stft(x: torch.Tensor, attention_mask: torch.Tensor | None, window: torch.Tensor,
                hop_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Short-time spectra of right-padded clips and which frames lie inside each clip.

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
    attention_mask : Tensor, shape (batch, samples), optional
        Nonzero for real samples (a prefix of each row); samples outside are zeroed.
    window : FloatTensor, shape (n_fft,)
    hop_length : int
        Samples between frames.

    Returns
    -------
    spec : ComplexTensor, shape (batch, channels, n_fft // 2 + 1, frames)
    frame_mask : BoolTensor, shape (batch, frames)
        True for the ``1 + max(0, L - n_fft) // hop_length`` frames of a clip of length L.
    """
    batch, channels, samples = x.shape
    n_fft = window.shape[0]
    if attention_mask is None:
        lengths = torch.full((batch,), samples, device=x.device)
    else:
        keep = attention_mask.to(x.device) != 0
        lengths = keep.sum(-1)
        if (lengths == 0).any():
            rows = torch.nonzero(lengths == 0).flatten().tolist()
            raise ValueError(f"attention_mask rows {rows} hold no real sample")
        x = x * keep[:, None, :].to(x.dtype)
    if samples < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - samples))
    spec = torch.stft(x.reshape(batch * channels, -1), n_fft, hop_length, window=window,
                      center=False, return_complex=True)
    spec = spec.reshape(batch, channels, *spec.shape[-2:])
    n_valid = 1 + torch.clamp(lengths - n_fft, min=0) // hop_length
    frame_mask = torch.arange(spec.shape[-1], device=x.device)[None, :] < n_valid[:, None]
    return spec, frame_mask


def masked_mean(values: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``values`` over ``dim`` with 0/1 ``weights`` (broadcastable, same ndim)."""
    return (values * weights).sum(dim) / weights.sum(dim).clamp(min=1)


def masked_std(values: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """Population standard deviation over ``dim`` with 0/1 ``weights`` (two-pass)."""
    mean = masked_mean(values, weights, dim).unsqueeze(dim)
    return masked_mean((values - mean).square(), weights, dim).sqrt()


def power_of(spec: torch.Tensor) -> torch.Tensor:
    """|spec|² as a real tensor of the same shape."""
    return spec.real.square() + spec.imag.square()


def to_bands(values: torch.Tensor, bands: torch.Tensor) -> torch.Tensor:
    """Sum over the bins of each band: (..., K) -> (..., B); complex too."""
    if values.is_complex():
        return torch.complex(values.real @ bands.T, values.imag @ bands.T)
    return values @ bands.T


def logmel_stats(x, attention_mask, window, mel_filterbank, hop_length: int,
                 log_floor: float) -> tuple[torch.Tensor, ...]:
    """Log-mel statistics of ``sarl-logmel``.

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
    attention_mask : Tensor, shape (batch, samples), optional
    window : FloatTensor, shape (n_fft,)
    mel_filterbank : FloatTensor, shape (n_fft // 2 + 1, n_mels)
    hop_length : int
    log_floor : float
        Added to the mel power before the natural log.

    Returns
    -------
    tuple of FloatTensor
        ``logmel_mean``, ``logmel_std`` (batch, C·M), ``logmel_meanstd`` (batch, 2·C·M),
        ``delta_std`` (batch, C·M), ``all`` (batch, 3·C·M); channel-major.
    """
    spec, frame_mask = masked_stft(x, attention_mask, window, hop_length)
    logmel = torch.log(mel_filterbank.T @ power_of(spec) + log_floor)  # (batch, C, M, frames)
    weights = frame_mask[:, None, None, :].to(logmel.dtype)
    mean = masked_mean(logmel, weights, -1).flatten(1)
    std = masked_std(logmel, weights, -1).flatten(1)
    pair_weights = weights[..., 1:] * weights[..., :-1]
    delta_std = masked_std(logmel.diff(dim=-1), pair_weights, -1).flatten(1)
    return (mean, std, torch.cat([mean, std], 1), delta_std,
            torch.cat([mean, std, delta_std], 1))


def energy_features(power, weights, bands, floor: float) -> torch.Tensor:
    """Per channel and band: level (dB) of the mean power, std over frames of the level.

    Parameters
    ----------
    power : FloatTensor, shape (batch, channels, K, frames)
    weights : FloatTensor, shape (batch, 1, 1, frames)
        1 for frames inside the clip.
    bands : FloatTensor, shape (B, K)
    floor : float
        Power floor of the dB values.

    Returns
    -------
    FloatTensor, shape (batch, channels·B·2)
        (level_db, fluctuation_db) for channel 0 band 0, band 1, ..., then channel 1 ...
    """
    band_power = bands @ power  # (batch, channels, B, frames)
    level = 10.0 * torch.log10(masked_mean(band_power, weights, -1) + floor)
    fluctuation = masked_std(10.0 * torch.log10(band_power + floor), weights, -1)
    return torch.stack([level, fluctuation], -1).flatten(1)


def gcc_phat(phat_cross, gcc_bins, interp: int, max_lag: int, sample_rate: int):
    """GCC-PHAT lag vectors and their peak delays from frame-averaged PHAT cross-spectra.

    Parameters
    ----------
    phat_cross : ComplexTensor, shape (batch, pairs, K)
        Frame average of u_i · conj(u_j), u = X / |X| (unit phasors); K = n_fft // 2 + 1.
    gcc_bins : FloatTensor, shape (K,)
        1 for the bins GCC-PHAT uses.
    interp : int
        Lags are spaced 1 / interp samples.
    max_lag : int
        Lags -max_lag..max_lag, in units of 1 / interp samples.
    sample_rate : int

    Returns
    -------
    lags : FloatTensor, shape (batch, pairs·(2·max_lag + 1))
        Positive lag = channel i leads; 1 at the peak for one coherent plane wave.
    delay_ms : FloatTensor, shape (batch, pairs)
        Peak lag in ms (parabolic interpolation); positive = channel i first.
    """
    spectrum = phat_cross.conj() * gcc_bins  # X_j conj(X_i): peak at + the delay of j
    n = (spectrum.shape[-1] - 1) * 2 * interp
    scale = n / (2.0 * gcc_bins.sum().clamp_min(1))
    inner, delay = peak_lag(torch.fft.irfft(spectrum, n=n) * scale, max_lag)
    return inner.flatten(1), delay / interp * (1000.0 / sample_rate)


def peak_lag(corr: torch.Tensor, max_lag: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The lags -max_lag..max_lag of circular correlations and the lag of their peak.

    Parameters
    ----------
    corr : FloatTensor, shape (..., n)
        Circular correlation, lag k at index k mod n.
    max_lag : int

    Returns
    -------
    lags : FloatTensor, shape (..., 2·max_lag + 1)
    peak : FloatTensor, shape (...)
        Lag of the largest value, refined by parabolic interpolation (within ±0.5).
    """
    index = torch.arange(-max_lag - 1, max_lag + 2, device=corr.device) % corr.shape[-1]
    return refined_peak(corr[..., index])


def refined_peak(extended: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The inner lags -max_lag..max_lag of a correlation and the lag of their peak.

    Parameters
    ----------
    extended : FloatTensor, shape (..., 2·max_lag + 3)
        The correlation at lags -max_lag - 1 .. max_lag + 1 (the outer two only refine).

    Returns
    -------
    lags : FloatTensor, shape (..., 2·max_lag + 1)
    peak : FloatTensor, shape (...)
        Lag of the largest inner value, refined by parabolic interpolation (within ±0.5).
    """
    max_lag = (extended.shape[-1] - 3) // 2
    inner = extended[..., 1:-1]
    peak = inner.argmax(-1, keepdim=True)
    left, centre, right = (extended.gather(-1, peak + k).squeeze(-1) for k in (0, 1, 2))
    curvature = left - 2.0 * centre + right
    tiny = torch.finfo(extended.dtype).tiny
    offset = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp(max=-tiny),
                         torch.zeros_like(centre)).clamp(-0.5, 0.5)
    return inner, peak.squeeze(-1) - max_lag + offset


def pair_features(spec, power, weights, bands, gcc_bins, config, max_lag: int):
    """GCC-PHAT, delay, ILD/IPD and coherence for every channel pair (i < j).

    Parameters
    ----------
    spec : ComplexTensor, shape (batch, C, K, frames)
    power : FloatTensor, shape (batch, C, K, frames)
    weights : FloatTensor, shape (batch, 1, 1, frames)
    bands : FloatTensor, shape (B, K)
    gcc_bins : FloatTensor, shape (K,)
    config : SarlSpatialConfig
    max_lag : int
        GCC-PHAT lags -max_lag..max_lag in units of 1 / gcc_interp samples.

    Returns
    -------
    dict of str to FloatTensor
        ``gcc_phat`` (batch, P·N), ``delay_ms`` (batch, P), ``ild_ipd`` (batch, P·B·3)
        ordered (ild_db, cos ipd, sin ipd) per band, ``coherence`` (batch, P·B).
    """
    first, second = torch.triu_indices(spec.shape[1], spec.shape[1], 1, device=spec.device)
    tiny = torch.finfo(power.dtype).tiny
    inverse = power.sqrt().clamp_min(tiny).reciprocal()
    unit = torch.view_as_complex(torch.view_as_real(spec) * inverse[..., None])  # X / |X|
    phat = masked_mean(unit[:, first] * unit[:, second].conj(), weights, -1)
    lags, delay_ms = gcc_phat(phat, gcc_bins, config.gcc_interp, max_lag, config.sample_rate)
    cross = masked_mean(spec[:, first] * spec[:, second].conj(), weights, -1)  # (batch, P, K)
    band_cross = to_bands(cross, bands)  # phase > 0 when channel i leads
    band_power = to_bands(masked_mean(power, weights, -1), bands)  # (batch, C, B)
    p_first, p_second = band_power[:, first], band_power[:, second]
    floor = config.level_floor
    ild = 10.0 * torch.log10((p_first + floor) / (p_second + floor))
    magnitude = band_cross.abs()
    ipd = band_cross / magnitude.clamp_min(tiny)
    coherence = (magnitude / (p_first * p_second).sqrt().clamp_min(tiny)).clamp(max=1.0)
    return {"gcc_phat": lags, "delay_ms": delay_ms,
            "ild_ipd": torch.stack([ild, ipd.real, ipd.imag], -1).flatten(1),
            "coherence": coherence.flatten(1)}


def intensity_features(spec, power, weights, bands) -> dict[str, torch.Tensor]:
    """Active intensity direction and diffuseness of FOA (W, Y, Z, X; ACN/SN3D).

    Parameters
    ----------
    spec : ComplexTensor, shape (batch, 4, K, frames)
    power : FloatTensor, shape (batch, 4, K, frames)
    weights : FloatTensor, shape (batch, 1, 1, frames)
    bands : FloatTensor, shape (B, K)

    Returns
    -------
    dict of str to FloatTensor
        ``intensity`` (batch, (B+1)·3): per band, (x, y, z) of Re{conj(W)·[X, Y, Z]} over
        the energy density (|W|² + |X|² + |Y|² + |Z|²)/2 of the band (listener frame:
        x front, y left, z up), preceded by the mean of the band vectors (broadband,
        every band weighted alike); ``diffuseness`` (batch, B+1): 1 - the norm of each
        vector, in [0, 1].
    """
    w_channel, xyz = spec[:, :1], spec[:, [3, 1, 2]]
    active = w_channel.real * xyz.real + w_channel.imag * xyz.imag  # (batch, 3, K, frames)
    intensity = to_bands(masked_mean(active, weights, -1), bands)  # (batch, 3, B)
    density = 0.5 * to_bands(masked_mean(power.sum(1, keepdim=True), weights, -1), bands)
    direction = intensity / density.clamp_min(torch.finfo(density.dtype).tiny)
    direction = torch.cat([direction.mean(-1, keepdim=True), direction], -1)  # (batch, 3, B+1)
    diffuseness = (1.0 - direction.norm(dim=1)).clamp(0.0, 1.0)
    return {"intensity": direction.transpose(1, 2).flatten(1), "diffuseness": diffuseness}


def spatial_features(x, attention_mask, model, layout: str | None) -> dict[str, torch.Tensor]:
    """The clip-average layers of ``sarl-spatial`` for one batch (see ``SarlSpatialModel``).

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
    attention_mask : Tensor, shape (batch, samples), optional
    model : SarlSpatialModel
        Supplies the config, window, band filterbank and GCC bins.
    layout : str or None
        ``foa`` for W, Y, Z, X input.

    Returns
    -------
    dict of str to FloatTensor, each (batch, dim)
        ``energy`` and the pair or FOA layers, in the order of ``spatial_layer_names``.
    """
    config = model.config
    spec, frame_mask = masked_stft(x, attention_mask, model.window, config.hop_length)
    weights = frame_mask[:, None, None, :].to(x.dtype)
    bands = model.band_filterbank.detach()
    power = power_of(spec)
    layers = {"energy": energy_features(power, weights, bands, config.level_floor)}
    if layout == "foa":
        layers.update(intensity_features(spec, power, weights, bands))
    elif x.shape[1] >= 2:
        layers.update(pair_features(spec, power, weights, bands, model.gcc_bins, config,
                                    model.max_lag))
    return layers
