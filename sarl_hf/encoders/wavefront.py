"""First-wavefront cues of ``sarl-spatial``: what the direct sound alone says.

Averaged over a whole reverberant clip, inter-channel cues mostly describe the room: at a
direct-to-reverberant ratio below -5 dB the clip-average intensity and GCC-PHAT point
tens of degrees away from the source. Listeners localise by the first wavefront (the
precedence effect), which reaches the ears before any reflection. These cues do the
same: they are computed on a few milliseconds of audio starting at the clip's first
onset, where the direct sound is alone or dominant.

The onset is found on the envelope (the largest absolute sample across channels): the
clip begins where the envelope first exceeds its maximum ``onset_floor_db`` below, and
the onset is the first sample whose envelope comes within ``onset_threshold_db`` of the
peak of the following ``onset_search_ms``. A clip without a clear onset (a sound that
starts before the clip and never stops) gets cues of whatever the first milliseconds
hold. Everything here is plain torch, vectorised over the batch.
"""

from __future__ import annotations

import torch

from .reference_features import refined_peak

#: Tuning width of the delay place code, in lags (1 / gcc_interp samples).
LAG_CODE_WIDTH = 2.0
#: Samples either side of a pair segment that absorb the wrap-around of its upsampling.
UPSAMPLE_MARGIN = 16


def first_onsets(x: torch.Tensor, lengths: torch.Tensor, sample_rate: int, floor_db: float,
                 threshold_db: float, search_ms: float) -> torch.Tensor:
    """The first onset of each clip, in samples.

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
        Zero beyond each clip's length.
    lengths : LongTensor, shape (batch,)
        Samples of each clip.
    sample_rate : int
        Hz.
    floor_db, threshold_db : float
        The clip begins ``floor_db`` (negative) below the envelope's maximum; the onset is
        the first sample within ``threshold_db`` (negative) of the following peak.
    search_ms : float
        How far after the beginning the peak is looked for.

    Returns
    -------
    LongTensor, shape (batch,)
    """
    envelope = x.abs().amax(1)  # (batch, samples)
    position = torch.arange(envelope.shape[1], device=x.device)[None, :]
    inside = position < lengths[:, None]
    top = envelope.amax(1, keepdim=True)
    begin = ((envelope > top * 10.0 ** (floor_db / 20.0)) & inside).int().argmax(1, keepdim=True)
    search = (position >= begin) & (position < begin + round(search_ms * 1e-3 * sample_rate))
    peak = torch.where(search & inside, envelope, torch.zeros_like(envelope)).amax(1, keepdim=True)
    above = (envelope >= peak * 10.0 ** (threshold_db / 20.0)) & (position >= begin) & inside
    return above.int().argmax(1)


def segments(x: torch.Tensor, lengths: torch.Tensor, onsets: torch.Tensor, before: int,
             length: int) -> torch.Tensor:
    """The samples ``[onset - before, onset + length)`` of each clip, zero outside the clip.

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
    lengths, onsets : LongTensor, shape (batch,)
    before, length : int
        Samples.

    Returns
    -------
    FloatTensor, shape (batch, channels, before + length)
    """
    index = onsets[:, None] - before + torch.arange(before + length, device=x.device)[None, :]
    valid = (index >= 0) & (index < lengths[:, None])
    index = index.clamp(0, x.shape[-1] - 1)
    taken = x.gather(2, index[:, None, :].expand(-1, x.shape[1], -1))
    return taken * valid[:, None, :].to(x.dtype)


def wavefront_intensity(segment: torch.Tensor) -> dict[str, torch.Tensor]:
    """Direction of the first wavefront of FOA (W, Y, Z, X; ACN/SN3D).

    Parameters
    ----------
    segment : FloatTensor, shape (batch, 4, samples)

    Returns
    -------
    dict of str to FloatTensor
        ``direct_intensity`` (batch, 3): the time-averaged active intensity W·[X, Y, Z]
        over the energy density (W² + X² + Y² + Z²)/2, (x, y, z) in the listener frame
        (a unit vector towards a lone plane wave's source); ``direct_diffuseness``
        (batch, 1): 1 - its norm.
    """
    w_channel, xyz = segment[:, :1], segment[:, [3, 1, 2]]
    intensity = (w_channel * xyz).mean(-1)  # (batch, 3)
    density = 0.5 * segment.square().sum(1).mean(-1, keepdim=True)
    direction = intensity / density.clamp_min(torch.finfo(segment.dtype).tiny)
    diffuseness = (1.0 - direction.norm(dim=1, keepdim=True)).clamp(0.0, 1.0)
    return {"direct_intensity": direction, "direct_diffuseness": diffuseness}


def upsampled(segment: torch.Tensor, factor: int) -> torch.Tensor:
    """Band-limited interpolation by an integer factor (zero padding of the spectrum).

    Parameters
    ----------
    segment : FloatTensor, shape (..., samples)

    Returns
    -------
    FloatTensor, shape (..., samples · factor)
        Sample ``t`` of the input at ``factor · t``; the ends wrap around (keep margins).
    """
    if factor == 1:
        return segment
    samples = segment.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(segment), n=samples * factor) * factor


def wavefront_pairs(x: torch.Tensor, lengths: torch.Tensor, onsets: torch.Tensor, window: int,
                    max_lag: int, interp: int, sample_rate: int,
                    level_floor: float) -> dict[str, torch.Tensor]:
    """Cross-correlation, delay and level difference of the first wavefront, every pair.

    Channel i's samples ``[onset - reach, onset + window)`` (``reach``: the largest lag,
    as the clip's onset is that of its earliest channel) are compared with channel j's
    equally long stretch at every lag: a normalised cross-correlation in which every lag
    sees the whole window (no bias towards lag 0 from a shrinking overlap, which a
    low-pitched onset would turn into an error of tens of µs) and channel j's energy is
    that of its own shifted stretch.

    Parameters
    ----------
    x : FloatTensor, shape (batch, C, samples)
        Zero beyond each clip's length.
    lengths, onsets : LongTensor, shape (batch,)
        Samples of each clip, and its first onset (:func:`first_onsets`).
    window : int
        Samples after the onset that are read.
    max_lag : int
        Lags -max_lag..max_lag, in units of 1 / interp samples.
    interp : int
        Lag resolution 1 / interp samples (band-limited interpolation).
    sample_rate : int
        Hz.
    level_floor : float
        Energy floor of the dB values.

    Returns
    -------
    dict of str to FloatTensor
        ``direct_xcorr`` (batch, P·N): the normalised cross-correlation (1 at the delay of
        one wavefront), positive lag = channel i leads; ``direct_lag_code`` (batch, P·N):
        its peak lag as a place code (:func:`lag_code`); ``direct_delay_ms`` (batch, P):
        that peak lag in ms, positive = channel i first; ``direct_ild`` (batch, P):
        10·log10 of the energy ratio over ``[onset - reach, onset + window + reach)``,
        positive = i louder.
    """
    reach = -(-max_lag // interp)  # the largest lag in whole samples
    margin = UPSAMPLE_MARGIN
    segment = segments(x, lengths, onsets, 2 * reach + margin, window + reach + margin)
    first, second = torch.triu_indices(x.shape[1], x.shape[1], 1, device=x.device)
    fine = upsampled(segment, interp)
    start, width = (reach + margin) * interp, (reach + window) * interp
    reference = fine[:, first, start:start + width]  # (batch, P, width)
    lags = torch.arange(-max_lag - 1, max_lag + 2, device=x.device)
    shifted = fine[:, second].unfold(-1, width, 1)[:, :, start + lags]  # (batch, P, L, width)
    product = torch.einsum("bpw,bplw->bpl", reference, shifted)
    energies = reference.square().sum(-1, keepdim=True) * shifted.square().sum(-1)
    tiny = torch.finfo(x.dtype).tiny
    corr, delay = refined_peak(product / energies.sqrt().clamp_min(tiny))
    level = segment[..., reach + margin:3 * reach + margin + window].square().sum(-1)
    ild = 10.0 * torch.log10((level[:, first] + level_floor) / (level[:, second] + level_floor))
    return {"direct_xcorr": corr.flatten(1), "direct_lag_code": lag_code(delay, max_lag),
            "direct_delay_ms": delay / interp * (1000.0 / sample_rate), "direct_ild": ild}


def lag_code(delay: torch.Tensor, max_lag: int, width: float = LAG_CODE_WIDTH) -> torch.Tensor:
    """A place code of delays (as coincidence detectors along delay lines code the ITD):
    one unit per lag -max_lag..max_lag, triangular tuning ``width`` lags wide.

    Parameters
    ----------
    delay : FloatTensor, shape (batch, P)
        In lag units.

    Returns
    -------
    FloatTensor, shape (batch, P·(2·max_lag + 1))
        1 at the delay, falling linearly to 0 ``width`` lags away.
    """
    lags = torch.arange(-max_lag, max_lag + 1, device=delay.device, dtype=delay.dtype)
    return (1.0 - (delay[..., None] - lags).abs() / width).clamp_min(0.0).flatten(1)


def wavefront_features(x: torch.Tensor, lengths: torch.Tensor, config, layout: str | None,
                       max_lag: int) -> dict[str, torch.Tensor]:
    """The first-wavefront layers of ``sarl-spatial`` (see ``SarlSpatialModel``).

    Parameters
    ----------
    x : FloatTensor, shape (batch, channels, samples)
        Zero beyond each clip's length.
    lengths : LongTensor, shape (batch,)
    config : SarlSpatialConfig
    layout : str or None
    max_lag : int
        Lags of ``direct_xcorr`` in units of 1 / ``config.gcc_interp`` samples.
    """
    rate = config.sample_rate
    onsets = first_onsets(x, lengths, rate, config.onset_floor_db, config.onset_threshold_db,
                          config.onset_search_ms)
    if layout == "foa":
        length = max(1, round(config.wavefront_ms * 1e-3 * rate))
        return wavefront_intensity(segments(x, lengths, onsets, 0, length))
    if x.shape[1] < 2:
        return {}
    window = max(1, round(config.pair_wavefront_ms * 1e-3 * rate))
    return wavefront_pairs(x, lengths, onsets, window, max_lag, config.gcc_interp, rate,
                           config.level_floor)
