"""Neural codecs of ``transformers`` (``EncodecModel``, ``DacModel``) as encoders: the
encoder's intermediate blocks, its continuous latent and the quantised latent, pooled
over frames.

Codecs have no hidden-state stack, so the layers are read off the encoder as it runs:

- EnCodec (SEANet encoder): ``block_k`` after the k-th downsampling convolution, ``lstm``
  after the LSTM, ``latent`` (the encoder's output, before quantisation) and
  ``quantized`` (the residual vector quantiser's reconstruction of ``latent`` at the
  highest target bandwidth). Stereo checkpoints (``audio_channels=2``, EnCodec 48 kHz)
  take both channels natively. With ``config.normalize`` the clip is divided by its RMS
  first, as ``EncodecModel.encode`` does; a clip is encoded whole (no streaming chunks).
- DAC: ``block_k`` after each encoder block, ``latent`` (the encoder's output) and
  ``quantized`` (with every codebook). Clips are zero-padded to a multiple of the hop,
  as ``DacFeatureExtractor`` does.
"""

from __future__ import annotations

import math

from .pooling import pool_frames

CODEC_TYPES = ("encodec", "dac")


def codec_channels(config) -> int:
    """Channels the codec takes: ``audio_channels`` (EnCodec), else 1."""
    return int(getattr(config, "audio_channels", 1) or 1)


def _encodec_stages(model, audio) -> dict:
    """{name: (batch, dim, frames)} of EnCodec's encoder on (batch, channels, samples)."""
    from transformers.models.encodec.modeling_encodec import EncodecConv1d, EncodecLSTM

    if model.config.normalize:
        mono = audio.mean(1, keepdim=True)
        audio = audio / (mono.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-8)
    stages, hidden, block = {}, audio, 0
    for index, layer in enumerate(model.encoder.layers):
        hidden = layer(hidden)
        last = index == len(model.encoder.layers) - 1
        if isinstance(layer, EncodecConv1d) and layer.conv.stride[0] > 1:
            block += 1
            stages[f"block_{block}"] = hidden
        elif isinstance(layer, EncodecLSTM):
            stages["lstm"] = hidden
        elif last:
            stages["latent"] = hidden
    bandwidth = max(model.config.target_bandwidths)
    codes = model.quantizer.encode(stages["latent"], bandwidth)
    stages["quantized"] = model.quantizer.decode(codes)
    return stages


def _dac_stages(model, audio) -> dict:
    """{name: (batch, dim, frames)} of DAC's encoder on (batch, 1, samples)."""
    import torch.nn.functional as F

    hop = int(model.config.hop_length)
    audio = F.pad(audio, (0, math.ceil(audio.shape[-1] / hop) * hop - audio.shape[-1]))
    encoder, stages = model.encoder, {}
    hidden = encoder.conv1(audio)
    for k, block in enumerate(encoder.block, start=1):
        hidden = block(hidden)
        stages[f"block_{k}"] = hidden
    stages["latent"] = encoder.conv2(encoder.snake1(hidden))
    stages["quantized"] = model.quantizer(stages["latent"])[0]
    return stages


def codec_layers(model, model_type: str, audio, pooling: str) -> dict:
    """The codec's layers for equal-length clips.

    Parameters
    ----------
    model : EncodecModel or DacModel
    model_type : {"encodec", "dac"}
    audio : torch.Tensor, shape (batch, channels, samples)
        At the codec's sampling rate, on its device.
    pooling : str
        See :func:`~sarl_hf.encoders.pooling.pool_frames`.

    Returns
    -------
    dict of str to torch.Tensor, shape (batch, dim)
    """
    stages = (_encodec_stages if model_type == "encodec" else _dac_stages)(model, audio)
    return {name: pool_frames(value.transpose(1, 2), value.shape[-1], pooling)
            for name, value in stages.items()}
