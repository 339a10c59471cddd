"""SARL's encoders behind the HEAR 2021 API (the other way round from :mod:`.hear`).

:class:`HEARModel` holds an SARL encoder and one of its layers; the two functions give
what a HEAR module's ``get_scene_embeddings`` and ``get_timestamp_embeddings`` return:

- scene embeddings: the layer of each whole clip, (n, dim);
- timestamp embeddings: the layer of a window of ``window_ms`` centred on every timestamp
  (0, ``hop_ms``, 2 ``hop_ms``, … up to the clip's end; zeros beyond the clip's edges),
  (n, timestamps, dim), with the timestamps in ms.

The modules :mod:`sarl_hf.encoders.hear_logmel` (mono) and
:mod:`sarl_hf.encoders.hear_spatial` (multichannel, in GRAM's convention: the model's
``in_channels``, audio (n, channels, samples)) use them; a module's ``load_model`` is its
only function of that name, since HEAR tools take any module-level ``load_model`` for the
entry point.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Encoder

__all__ = ["HEARModel", "scene_embeddings", "timestamp_embeddings"]


class HEARModel(torch.nn.Module):
    """An SARL encoder as the model a HEAR module's ``load_model`` returns.

    Parameters
    ----------
    encoder : Encoder
    layer : str
        The layer both kinds of embedding return.
    in_channels : int
        Channels of the audio the module takes: 1 for (n, samples), more for
        (n, channels, samples) (then ``in_channels`` is an attribute, as GRAM's).
    window_ms, hop_ms : float
        Window of a timestamp embedding and time between timestamps.

    The encoder runs on the CPU whatever device the module is moved to; its fingerprint
    is a buffer, so the model's state dict changes whenever its embeddings would.
    """

    def __init__(self, encoder: Encoder, layer: str, in_channels: int = 1,
                 window_ms: float = 250.0, hop_ms: float = 50.0):
        super().__init__()
        if layer not in encoder.layers:
            raise ValueError(f"layer must be one of {encoder.layers}, got {layer!r}")
        self.encoder, self.layer, self.channels = encoder, layer, int(in_channels)
        if self.channels > 1:
            self.in_channels = self.channels
        self.sample_rate = int(encoder.sample_rate)
        self.window = int(round(window_ms * self.sample_rate / 1000))
        self.hop = int(round(hop_ms * self.sample_rate / 1000))
        probe = np.zeros((self.channels, self.sample_rate), np.float32)
        size = int(encoder.embed([probe], self.sample_rate)[layer].shape[1])
        self.scene_embedding_size = self.timestamp_embedding_size = size
        self.paradigm, self.training_data = encoder.paradigm, encoder.training_data
        self.family = encoder.family or encoder.name
        digest = bytes.fromhex(encoder.fingerprint())
        self.register_buffer("fingerprint", torch.tensor(list(digest), dtype=torch.uint8))

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """The layer of clips (n, channels, samples): (n, dim) float32."""
        return self.encoder.embed(audio, self.sample_rate)[self.layer]


def _clips(audio, model: HEARModel) -> np.ndarray:
    """HEAR audio as float32 (n, channels, samples), checked against ``in_channels``."""
    clips = audio.detach().float().cpu().numpy()
    clips = clips[:, None] if clips.ndim == 2 else clips
    if clips.ndim != 3 or clips.shape[1] != model.channels:
        shape = "(n, samples)" if model.channels == 1 else f"(n, {model.channels}, samples)"
        raise ValueError(f"audio must be {shape}, got {tuple(audio.shape)}")
    return clips


def scene_embeddings(audio, model: HEARModel):
    """``get_scene_embeddings``: the layer of each clip.

    Parameters
    ----------
    audio : torch.Tensor, shape (n, samples) or (n, channels, samples)
    model : HEARModel

    Returns
    -------
    torch.Tensor, shape (n, scene_embedding_size), float32, on ``audio``'s device
    """
    return torch.from_numpy(model.embed(_clips(audio, model))).to(audio.device)


def timestamp_embeddings(audio, model: HEARModel):
    """``get_timestamp_embeddings``: the layer of the window around every timestamp.

    Parameters
    ----------
    audio : torch.Tensor, shape (n, samples) or (n, channels, samples)
    model : HEARModel

    Returns
    -------
    embeddings : torch.Tensor, shape (n, timestamps, timestamp_embedding_size), float32
    timestamps : torch.Tensor, shape (n, timestamps), ms
    """
    clips = _clips(audio, model)
    n, channels, samples = clips.shape
    centres = np.arange(0, samples + 1, model.hop)
    half = model.window // 2
    padded = np.pad(clips, ((0, 0), (0, 0), (half, model.window - half)))
    windows = np.stack([padded[:, :, c:c + model.window] for c in centres], axis=1)
    values = model.embed(windows.reshape(n * len(centres), channels, model.window))
    embeddings = torch.from_numpy(values.reshape(n, len(centres), -1)).to(audio.device)
    times = torch.from_numpy(centres * 1000.0 / model.sample_rate).float()
    return embeddings, times.expand(n, -1).to(audio.device)
