"""The feature extractor of the reference encoders: clips checked and padded into a batch.

``SarlFeatureExtractor`` holds what a saved ``sarl-logmel`` or ``sarl-spatial`` folder
expects of its audio (``preprocessor_config.json``): the sampling rate, the channel format
and, where it is fixed, the channel count and names. It refuses audio at another rate or
with another channel count, and pads clips of different lengths with zeros on the right,
with an attention mask, exactly as the models expect (padding never changes an
embedding). It imports only numpy and ``transformers``: ``save_pretrained`` copies it into
the folder (``AutoFeatureExtractor.from_pretrained(folder, trust_remote_code=True)``).
"""

from __future__ import annotations

import numpy as np
from transformers import BatchFeature
from transformers import FeatureExtractionMixin

#: The channel format of a model that takes any number of channels.
ANY_FORMAT = "any"


def _as_array(audio) -> np.ndarray:
    """``audio`` (array, list, or a torch tensor on any device) as a numpy array."""
    if hasattr(audio, "detach") and hasattr(audio, "cpu"):
        audio = audio.detach().cpu().numpy()
    return np.asarray(audio)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class SarlFeatureExtractor(FeatureExtractionMixin):
    """Checks and pads channels-first audio for the reference models.

    Parameters
    ----------
    sampling_rate : int
        Hz the model takes; audio at another rate is refused (resample it first).
    channel_format : str
        ``any`` (any channel count), or the name of the format the model reads
        (``foa``: W, Y, Z, X; ``binaural``: left, right; ...).
    num_channels : int, optional
        Channels every clip must have; None: any count (one count per batch). Default:
        ``len(channel_names)``.
    channel_names : list of str, optional
        The channels, in order.
    padding_value : float
        Written after the end of shorter clips (the mask marks it; the models ignore it).
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(self, sampling_rate: int = 16000, channel_format: str = ANY_FORMAT,
                 num_channels: int | None = None, channel_names=None, padding_value: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.sampling_rate = _positive_int("sampling_rate", sampling_rate)
        if not isinstance(channel_format, str) or not channel_format:
            raise ValueError(f"channel_format must be a non-empty string, got {channel_format!r}")
        self.channel_format = channel_format
        self.channel_names = None if channel_names is None else [str(n) for n in channel_names]
        if num_channels is None and self.channel_names is not None:
            num_channels = len(self.channel_names)
        self.num_channels = None if num_channels is None else \
            _positive_int("num_channels", num_channels)
        if self.channel_names is not None and len(self.channel_names) != self.num_channels:
            raise ValueError(f"channel_names {self.channel_names} do not match num_channels "
                             f"{self.num_channels}")
        self.padding_value = float(padding_value)

    def _clips(self, raw_audio) -> list[np.ndarray]:
        """``raw_audio`` as a list of float32 (channels, samples) arrays, checked."""
        if isinstance(raw_audio, (list, tuple)):
            clips = [_as_array(clip) for clip in raw_audio]
        else:
            array = _as_array(raw_audio)
            clips = list(array) if array.ndim == 3 else [array]
        if not clips:
            raise ValueError("raw_audio holds no clip")
        out = []
        for k, clip in enumerate(clips):
            if clip.ndim == 1:
                clip = clip[None, :]
            if clip.ndim != 2 or not np.issubdtype(clip.dtype, np.floating):
                integer = np.issubdtype(clip.dtype, np.integer)
                raise ValueError(f"clip {k}: expected real floating-point (channels, samples) "
                                 f"audio, got shape {clip.shape} of {clip.dtype}" +
                                 (" (convert integer PCM to floats in [-1, 1])" if integer
                                  else ""))
            if clip.shape[1] == 0:
                raise ValueError(f"clip {k} holds no sample")
            if clip.shape[0] > clip.shape[1]:
                raise ValueError(f"clip {k} has shape {clip.shape}: more channels than "
                                 "samples; pass audio channels first, (channels, samples)")
            with np.errstate(over="ignore"):  # beyond float32: inf, refused below
                clip = clip.astype(np.float32, copy=False)
            if not np.isfinite(clip).all():
                raise ValueError(f"clip {k} holds NaN or infinite samples (or values beyond "
                                 "float32)")
            out.append(clip)
        return out

    def _check_channels(self, clips: list[np.ndarray]) -> None:
        counts = sorted({clip.shape[0] for clip in clips})
        if len(counts) > 1:
            raise ValueError(f"every clip of a batch must have one channel count (the layers "
                             f"depend on it), got {counts}")
        if self.num_channels is not None and counts[0] != self.num_channels:
            names = f" ({', '.join(self.channel_names)})" if self.channel_names else ""
            raise ValueError(f"this model reads {self.channel_format} audio of "
                             f"{self.num_channels} channels{names}, got {counts[0]}")

    def __call__(self, raw_audio, sampling_rate: int | None = None,
                 return_tensors: str | None = None, padding=True,
                 return_attention_mask: bool | None = None) -> BatchFeature:
        """One padded batch.

        Parameters
        ----------
        raw_audio : array, shape (samples,), (channels, samples) or (batch, channels,
            samples); or a list of (channels, samples) / (samples,) arrays
            One clip, or a batch of clips (lengths may differ), channels first.
        sampling_rate : int
            Hz of ``raw_audio``; required, and it must be ``self.sampling_rate``.
        return_tensors : str, optional
            ``pt``, ``np`` (or None: numpy arrays).
        padding, return_attention_mask
            Only what the models need: ``True`` or ``"longest"``; None or ``True`` (the
            mask is always returned). Anything else is refused, not ignored.

        Returns
        -------
        BatchFeature
            ``input_values`` (batch, channels, longest samples) float32, zero-padded on
            the right; ``attention_mask`` (batch, longest samples) int64, 1 for real samples.
        """
        if sampling_rate is None:
            raise ValueError(f"sampling_rate is required: pass the rate of raw_audio in Hz "
                             f"(this model takes {self.sampling_rate} Hz)")
        if sampling_rate != self.sampling_rate:
            raise ValueError(f"raw_audio is at {sampling_rate} Hz, this model takes "
                             f"{self.sampling_rate} Hz: resample it first")
        if padding not in (True, "longest") or return_attention_mask not in (None, True):
            raise ValueError(f"padding={padding!r}, return_attention_mask="
                             f"{return_attention_mask!r}: the models take clips padded to the "
                             "longest with their attention mask (padding=True)")
        clips = self._clips(raw_audio)
        self._check_channels(clips)
        longest = max(clip.shape[1] for clip in clips)
        values = np.full((len(clips), clips[0].shape[0], longest), self.padding_value,
                         dtype=np.float32)
        mask = np.zeros((len(clips), longest), dtype=np.int64)
        for row, clip in enumerate(clips):
            values[row, :, :clip.shape[1]] = clip
            mask[row, :clip.shape[1]] = 1
        return BatchFeature({"input_values": values, "attention_mask": mask},
                            tensor_type=return_tensors)


SarlFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
